"""The OOM killer: pick the task whose death frees the most memory, kill it, free it.

Models: mm/oom_kill.c (v6.14): ``oom_badness()`` (resident anon pages + swap entries +
page-table pages, plus ``oom_score_adj`` scaled to the constraint's total pages; -1000 is
unkillable), ``select_bad_process()`` over the OOM-ing memcg's tasks (``mem_cgroup_scan_tasks``)
or every task (global), and ``oom_kill_process()``: every task sharing the victim's mm gets
SIGKILL and the mm is torn down at once (the OOM reaper's effect), releasing its memory and its
swap. Events: ``oom`` on the cgroup that hit its limit (``mem_cgroup_oom``), ``oom_kill`` on
the victim's cgroup and in /proc/vmstat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from vswap._mypyc import trait
from vswap.kernel.types import PAGE_SIZE
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import Signal, Task

if TYPE_CHECKING:
    from vswap.kernel.memcontrol import MemCgroup

OOM_SCORE_ADJ_MIN: Final = -1000


@trait
class OomMixin(MachineBase):
    """OOM handling of :class:`~vswap.mm.machine.Machine`."""

    def oom_badness(self, task: Task, totalpages: int) -> int | None:
        """Models: ``oom_badness()``; None for an unkillable task."""
        if task.oom_score_adj <= OOM_SCORE_ADJ_MIN or not task.alive:
            return None
        mm = task.mm
        points = mm.rss_anon + mm.swapents + mm.pgtables_bytes() // PAGE_SIZE
        return points + task.oom_score_adj * totalpages // 1000

    def select_bad_process(self, memcg: MemCgroup | None) -> Task | None:
        """Models: ``select_bad_process()``: the highest badness in the constraint (later
        tasks win ties, as the kernel's ``>=`` scan does)."""
        if memcg is not None:
            members = {m.id for m in memcg.subtree()}
            limit = memcg.memory.max // PAGE_SIZE
            totalpages = min(limit, self.nr_pages + self.total_swap_pages())
            tasks = [t for t in self.tasks.values() if t.mm.memcg.id in members]
        else:
            totalpages = self.nr_pages + self.total_swap_pages()
            tasks = list(self.tasks.values())
        chosen: Task | None = None
        best = -(1 << 62)
        for task in tasks:
            points = self.oom_badness(task, max(totalpages, 1))
            if points is None:
                continue
            if points >= best:
                chosen, best = task, points
        return chosen

    def out_of_memory(self, memcg: MemCgroup | None, reason: str) -> Task | None:
        """Kill the worst task of ``memcg`` (or of the machine); return it, or None when no
        task can be killed.

        Models: ``mem_cgroup_oom()`` / ``out_of_memory()`` -> ``oom_kill_process()``. The
        victim's memory and swap are freed before this returns; if the victim is the task
        doing the current operation, TaskKilled is raised (to that workload only).
        """
        if memcg is not None:
            memcg.memcg_memory_event("oom")
        victim = self.select_bad_process(memcg)
        self.oom_log.append((memcg.path if memcg is not None else "global",
                             victim.pid if victim is not None else 0, reason))
        if victim is None:
            return None
        victim.mm.memcg.memcg_memory_event("oom_kill")
        self.vmstat.count_vm_event("oom_kill")
        for task in [t for t in self.tasks.values() if t.mm is victim.mm]:
            self.kill_task(task, Signal.SIGKILL, f"out of memory ({reason})", raise_=False)
        if self.current is not None and not self.current.alive:
            self.raise_killed(self.current)
        return victim
