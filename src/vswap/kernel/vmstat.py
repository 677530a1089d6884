"""Global event counters with their ``/proc/vmstat`` names.

Models: the swap-related ``vm_event_item``s of include/linux/vm_event_item.h and their text
names in mm/vmstat.c (v6.14). Each counter is declared once here, with what it counts.
Counters only ever increase. Per-cgroup copies of the same names live in
``MemCgroup.stat`` (``memory.stat``).
"""

from __future__ import annotations

from collections import Counter
from typing import Final

#: Every swap-relevant /proc/vmstat event, in the kernel's order, with its meaning.
VM_EVENTS: Final[dict[str, str]] = {
    "pgfault": "page faults of any kind",
    "pgmajfault": "faults that had to read a page (swap-in from zswap or a device)",
    "pswpin": "pages read from a swap device (not zswap hits, not zero pages)",
    "pswpout": "pages written to a swap device",
    "pgscan_kswapd": "pages scanned by kswapd",
    "pgscan_direct": "pages scanned by direct reclaim",
    "pgsteal_kswapd": "pages reclaimed by kswapd",
    "pgsteal_direct": "pages reclaimed by direct reclaim",
    "pgscan_anon": "anonymous pages scanned",
    "pgsteal_anon": "anonymous pages reclaimed",
    "pgrefill": "active pages scanned for deactivation (shrink_active_list)",
    "pgactivate": "pages moved to the active list",
    "pgrotated": "written-back pages rotated to the inactive list's tail for reclaim",
    "pgdeactivate": "pages moved to the inactive list",
    "workingset_refault_anon": "anon refaults of recently evicted pages (shadow entries)",
    "workingset_activate_anon": "anon refaults activated immediately",
    "workingset_restore_anon": "anon refaults of pages that were active when evicted",
    "oom_kill": "tasks killed by the OOM killer",
    "swap_ra": "pages brought in by swap readahead",
    "swap_ra_hit": "readahead pages that were then used",
    "swpin_zero": "zero-filled pages swapped in without I/O",
    "swpout_zero": "zero-filled pages swapped out without I/O",
    "zswpin": "pages loaded from zswap",
    "zswpout": "pages stored in zswap",
    "zswpwb": "pages written back from zswap to a swap device",
    "pgmigrate_success": "pages migrated to a new folio (compaction)",
    "pgmigrate_fail": "pages whose migration failed (no free page for the new folio)",
    "compact_migrate_scanned": "pages compaction's migration scanner looked at",
    "compact_isolated": "pages compaction isolated (the folios to move and their targets)",
    "thp_fault_alloc": "PMD-size THPs allocated at an anonymous fault",
    "thp_file_alloc": "PMD-size shmem (tmpfs) folios allocated",
    "thp_file_fallback": "PMD-size shmem folios that could not be allocated (order 0 instead)",
    "thp_split_page": "PMD-size THPs split",
    "thp_split_page_failed": "PMD-size THPs a split was refused for (locked or held)",
    "thp_deferred_split_page": "PMD-size THPs queued for a deferred split (partially mapped)",
    "thp_swpout": "PMD-size THPs swapped out in one piece",
    "thp_swpout_fallback": "PMD-size THPs split before swap-out",
    "thp_migration_success": "PMD-size THPs migrated whole",
    "thp_migration_fail": "PMD-size THPs whose migration failed",
}


class VmStat(Counter[str]):
    """The machine's ``/proc/vmstat`` event counters (a ``Counter`` keyed by kernel name).

    ``count_vm_event(name)`` / ``count_vm_events(name, nr)`` model the kernel helpers; an
    undeclared name is a programming error and raises KeyError.
    """

    def count_vm_event(self, name: str) -> None:
        """Models: ``count_vm_event()``."""
        if name not in VM_EVENTS:
            raise KeyError(f"undeclared vm event {name!r}")
        self[name] += 1

    def count_vm_events(self, name: str, nr: int) -> None:
        """Models: ``count_vm_events()``."""
        if name not in VM_EVENTS:
            raise KeyError(f"undeclared vm event {name!r}")
        self[name] += nr

    def as_dict(self) -> dict[str, int]:
        """Every declared counter, zero or not, in kernel order."""
        return {name: self[name] for name in VM_EVENTS}

    def format(self) -> str:
        """The ``/proc/vmstat`` text for the declared counters (``name value`` lines)."""
        return "".join(f"{name} {self[name]}\n" for name in VM_EVENTS)
