"""The cgroup v2 memory controller files: parsing writes as the kernel does, formatting reads.

Models: the ``memory_files[]`` / ``swap_files[]`` cftype handlers of mm/memcontrol.c (v6.14):
``memory_max_write`` (set, then reclaim down to the new limit and OOM if that fails),
``memory_high_write`` (set, then reclaim), ``swap_max_write``, ``swap_high_write``,
``zswap_max_write``, ``zswap_writeback_write``, ``memory_reclaim`` (``<bytes>
[swappiness=<0-200|max>]``, ``-EAGAIN`` if not all could be reclaimed), the peak files (a write
resets them) and the read side (``memory.current``, ``memory.stat``, ``memory.events``, ...).

Values parse as ``page_counter_memparse`` does: ``max``, or a byte count with an optional
``K``/``M``/``G``/``T``/``P``/``E`` suffix (binary, either case), rounded down to pages for the
page counters. Anything else is ``-EINVAL`` with a one-line message and no state changed.
"""

from __future__ import annotations

import re
from typing import Final

from vswap._mypyc import trait
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.memcontrol import MAX, MEMORY_EVENTS, SWAP_EVENTS, MemCgroup
from vswap.kernel.types import PAGE_SIZE
from vswap.mm._base import MachineBase

_MEMPARSE = re.compile(r"^(\d+)([kKmMgGtTpPeE]?)$")
_SUFFIX: Final = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}

#: The read-only and read-write files the model provides, for listing.
MEMCG_FILES: Final = (
    "memory.current", "memory.peak", "memory.max", "memory.high", "memory.events",
    "memory.events.local", "memory.stat", "memory.reclaim", "memory.swap.current",
    "memory.swap.peak", "memory.swap.max", "memory.swap.high", "memory.swap.events",
    "memory.zswap.current", "memory.zswap.max", "memory.zswap.writeback",
)

#: memory.stat, in the kernel's order (memory_stats[] then memcg_vm_event_stat[]): name ->
#: True if it is a byte-valued state item.
MEMORY_STAT_KEYS: Final[tuple[tuple[str, bool], ...]] = (
    ("anon", True), ("shmem", True), ("zswap", True), ("zswapped", True),
    ("swapcached", True), ("shmem_thp", True), ("inactive_anon", True), ("active_anon", True),
    ("workingset_refault_anon", False), ("workingset_activate_anon", False),
    ("workingset_restore_anon", False),
    ("pswpin", False), ("pswpout", False),
    ("pgscan", False), ("pgsteal", False), ("pgscan_kswapd", False), ("pgscan_direct", False),
    ("pgsteal_kswapd", False), ("pgsteal_direct", False), ("pgfault", False),
    ("pgmajfault", False), ("pgrefill", False), ("pgactivate", False),
    ("pgdeactivate", False), ("swpin_zero", False), ("swpout_zero", False),
    ("zswpin", False), ("zswpout", False), ("zswpwb", False), ("zswap_incomp", False),
    ("thp_fault_alloc", False), ("thp_swpout", False), ("thp_swpout_fallback", False),
)


def page_counter_memparse(text: str, what: str) -> int:
    """Parse a limit: ``max`` -> MAX, else bytes with an optional binary suffix.

    Raises:
        KernelError(EINVAL): anything else (one line naming the file and the text).
    """
    s = text.strip()
    if s == "max":
        return MAX
    m = _MEMPARSE.match(s)
    if not m:
        raise KernelError(Errno.EINVAL, f"{what}: invalid value {text.strip()!r} "
                                        f"(bytes with K/M/G suffix, or 'max')")
    value = int(m.group(1)) << _SUFFIX[m.group(2).lower()]
    return min(value, MAX)


def _fmt_limit(value: int) -> str:
    return "max" if value >= MAX else str(value)


@trait
class MemcgFilesMixin(MachineBase):
    """The cgroup files of :class:`~vswap.mm.machine.Machine`."""

    # -- reads -------------------------------------------------------------------------------
    def memcg_stat(self, memcg: MemCgroup) -> dict[str, int]:
        """``memory.stat`` as a dict (bytes for state items, counts for events)."""
        subtree = list(memcg.subtree())
        ids = {m.id for m in subtree}
        anon = inactive = active = 0
        for m in subtree:
            lv = self.lruvecs.get(m.id)
            if lv is not None:
                anon += lv.nr_anon
                inactive += lv.nr_inactive
                active += lv.nr_active
        swapcached = sum(f.nr_pages for f in self.design.swap_cache.folios()
                         if f.memcg_id in ids)

        def ev(name: str) -> int:
            return sum(m.stat[name] for m in subtree)

        out: dict[str, int] = {}
        for key, _is_bytes in MEMORY_STAT_KEYS:
            if key == "anon":
                out[key] = anon * PAGE_SIZE
            elif key == "shmem":
                out[key] = self.shmem_memcg_pages(ids) * PAGE_SIZE
            elif key == "shmem_thp":
                out[key] = self.shmem_memcg_thp_pages(ids) * PAGE_SIZE
            elif key == "zswap":
                out[key] = memcg.zswap.usage
            elif key == "zswapped":
                out[key] = ev("zswapped_pages") * PAGE_SIZE
            elif key == "swapcached":
                out[key] = swapcached * PAGE_SIZE
            elif key == "inactive_anon":
                out[key] = inactive * PAGE_SIZE
            elif key == "active_anon":
                out[key] = active * PAGE_SIZE
            elif key == "pgscan":
                out[key] = ev("pgscan_kswapd") + ev("pgscan_direct")
            elif key == "pgsteal":
                out[key] = ev("pgsteal_kswapd") + ev("pgsteal_direct")
            else:
                out[key] = ev(key)
        return out

    def cgroup_read(self, path: str, name: str) -> str:
        """Read a memory controller file of the cgroup at ``path``, in the kernel's format.

        Raises:
            KernelError(ENOENT): no such cgroup or file.
        """
        memcg = self.memcgs.lookup(path)
        return self._cgroup_read(memcg, name)

    def _cgroup_read(self, memcg: MemCgroup, name: str) -> str:
        if name == "memory.current":
            return f"{memcg.memory.usage}\n"
        if name == "memory.peak":
            return f"{memcg.memory.peak}\n"
        if name == "memory.max":
            return _fmt_limit(memcg.memory.max) + "\n"
        if name == "memory.high":
            return _fmt_limit(memcg.memory_high) + "\n"
        if name == "memory.swap.current":
            return f"{memcg.swap.usage * PAGE_SIZE}\n"
        if name == "memory.swap.peak":
            return f"{memcg.swap.peak * PAGE_SIZE}\n"
        if name == "memory.swap.max":
            return _fmt_limit(memcg.swap.max if memcg.swap.max >= MAX
                              else memcg.swap.max * PAGE_SIZE) + "\n"
        if name == "memory.swap.high":
            return _fmt_limit(memcg.swap_high if memcg.swap_high >= MAX
                              else memcg.swap_high * PAGE_SIZE) + "\n"
        if name == "memory.zswap.current":
            return f"{memcg.zswap.usage}\n"
        if name == "memory.zswap.max":
            return _fmt_limit(memcg.zswap.max) + "\n"
        if name == "memory.zswap.writeback":
            return f"{int(memcg.zswap_writeback)}\n"
        if name == "memory.events":
            return "".join(f"{k} {memcg.events[k]}\n" for k in MEMORY_EVENTS)
        if name == "memory.events.local":
            return "".join(f"{k} {memcg.events_local[k]}\n" for k in MEMORY_EVENTS)
        if name == "memory.swap.events":
            return "".join(f"{k} {memcg.swap_events[k]}\n" for k in SWAP_EVENTS)
        if name == "memory.stat":
            return "".join(f"{k} {v}\n" for k, v in self.memcg_stat(memcg).items())
        if name == "memory.swap.tiers.max":
            return self.design.devices.tiers.memcg_read(memcg.id)
        raise KernelError(Errno.ENOENT, f"{memcg.path}: no file {name!r}")

    def cgroup_files(self, path: str) -> dict[str, object]:
        """Every readable memory file of a cgroup as a dict: numbers as ints (``max`` as the
        string ``"max"``), the flat-keyed files (stat, events) as dicts."""
        memcg = self.memcgs.lookup(path)
        out: dict[str, object] = {}
        for name in MEMCG_FILES:
            if name == "memory.reclaim":
                continue
            text = self._cgroup_read(memcg, name)
            if name in ("memory.stat", "memory.events", "memory.events.local",
                        "memory.swap.events"):
                out[name] = {k: int(v) for k, v in
                             (line.split() for line in text.splitlines())}
            else:
                v = text.strip()
                out[name] = v if v == "max" else int(v)
        return out

    # -- writes ------------------------------------------------------------------------------
    def cgroup_write(self, path: str, name: str, value: str | int) -> None:
        """Write a memory controller file, as ``echo value > <cgroup>/<name>``.

        Raises:
            KernelError(EINVAL): malformed value (nothing changed).
            KernelError(ENOENT): no such cgroup or file; (EAGAIN): ``memory.reclaim`` could
                not reclaim the amount asked.
        """
        memcg = self.memcgs.lookup(path)
        text = str(value)
        if memcg.parent is None and name != "memory.reclaim":
            raise KernelError(Errno.ENOENT, f"the root cgroup has no {name}")
        self.op_begin(None)
        try:
            self._cgroup_write(memcg, name, text)
        finally:
            self.op_end()

    def _cgroup_write(self, memcg: MemCgroup, name: str, text: str) -> None:
        if name == "memory.max":
            limit = page_counter_memparse(text, name)
            memcg.memory.max = limit // PAGE_SIZE * PAGE_SIZE if limit < MAX else MAX
            self.memory_max_enforce(memcg)
        elif name == "memory.high":
            limit = page_counter_memparse(text, name)
            memcg.memory_high = limit // PAGE_SIZE * PAGE_SIZE if limit < MAX else MAX
            self.reclaim_high(memcg, event=False)
        elif name == "memory.swap.max":
            limit = page_counter_memparse(text, name)
            memcg.swap.max = limit // PAGE_SIZE if limit < MAX else MAX
        elif name == "memory.swap.high":
            limit = page_counter_memparse(text, name)
            memcg.swap_high = limit // PAGE_SIZE if limit < MAX else MAX
        elif name == "memory.zswap.max":
            limit = page_counter_memparse(text, name)
            memcg.zswap.max = limit
        elif name == "memory.zswap.writeback":
            s = text.strip()
            if s not in ("0", "1"):
                raise KernelError(Errno.EINVAL, f"{name}: invalid value {s!r} (0 or 1)")
            memcg.zswap_writeback = s == "1"
        elif name == "memory.swap.tiers.max":
            self.design.devices.tiers.memcg_write(memcg.id, text)
        elif name in ("memory.peak", "memory.swap.peak"):
            counter = memcg.memory if name == "memory.peak" else memcg.swap
            counter.peak = counter.usage
        elif name == "memory.reclaim":
            self.memory_reclaim(memcg, text)
        else:
            raise KernelError(Errno.ENOENT, f"{memcg.path}: no writable file {name!r}")

    def memory_reclaim(self, memcg: MemCgroup, text: str) -> int:
        """Models: ``memory_reclaim()``: proactive reclaim of ``<bytes>
        [swappiness=<0-200|max>]``. Returns pages reclaimed.

        Raises:
            KernelError(EINVAL): malformed request; (EAGAIN): fell short after
                MAX_RECLAIM_RETRIES passes without progress.
        """
        from vswap.mm.vmscan import MAX_RECLAIM_RETRIES, SWAP_CLUSTER_MAX

        parts = text.split()
        if not parts:
            raise KernelError(Errno.EINVAL, "memory.reclaim: empty request")
        nbytes = page_counter_memparse(parts[0], "memory.reclaim")
        if nbytes >= MAX:
            raise KernelError(Errno.EINVAL, "memory.reclaim: 'max' is not an amount")
        swappiness: int | None = None
        for opt in parts[1:]:
            key, _, val = opt.partition("=")
            if key != "swappiness" or not val:
                raise KernelError(Errno.EINVAL, f"memory.reclaim: unknown option {opt!r}")
            if val == "max":
                swappiness = 200
            elif val.isdigit() and 0 <= int(val) <= 200:
                swappiness = int(val)
            else:
                raise KernelError(Errno.EINVAL, f"memory.reclaim: swappiness {val!r} "
                                                f"outside 0..200|max")
        nr_to_reclaim = nbytes // PAGE_SIZE
        reclaimed = 0
        retries = MAX_RECLAIM_RETRIES
        while reclaimed < nr_to_reclaim:
            batch = min(nr_to_reclaim - reclaimed, SWAP_CLUSTER_MAX)
            got = self.try_to_free_mem_cgroup_pages(memcg, batch, swappiness=swappiness,
                                                    proactive=True)
            if not got:
                retries -= 1
                if not retries:
                    break
            reclaimed += got
        if reclaimed < nr_to_reclaim:
            raise KernelError(Errno.EAGAIN, f"memory.reclaim: reclaimed {reclaimed} of "
                                            f"{nr_to_reclaim} pages")
        return reclaimed

    def memory_max_enforce(self, memcg: MemCgroup) -> None:
        """Models: the loop of ``memory_max_write()``: reclaim down to the new limit, then
        OOM-kill until the cgroup fits or nothing is left to kill."""
        from vswap.mm.vmscan import MAX_RECLAIM_RETRIES

        retries = MAX_RECLAIM_RETRIES
        while memcg.memory.usage > memcg.memory.max:
            over = (memcg.memory.usage - memcg.memory.max + PAGE_SIZE - 1) // PAGE_SIZE
            if retries:
                if not self.try_to_free_mem_cgroup_pages(memcg, over):
                    retries -= 1
                continue
            if self.out_of_memory(memcg, "memory.max lowered") is None:
                break

    def reclaim_high(self, memcg: MemCgroup, *, event: bool = True) -> None:
        """Models: ``reclaim_high()``: reclaim each ancestor over ``memory.high`` back
        under it, raising the ``high`` event."""
        for m in memcg.ancestors():
            if m.memory.usage <= m.memory_high:
                continue
            if event:
                m.memcg_memory_event("high")
            over = (m.memory.usage - m.memory_high + PAGE_SIZE - 1) // PAGE_SIZE
            self.try_to_free_mem_cgroup_pages(m, over)
