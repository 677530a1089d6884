"""Kernel-format views: /proc/meminfo, /proc/vmstat, /proc/swaps.

Models: fs/proc/meminfo.c (``meminfo_proc_show``: ``%-16s%8lu kB`` lines), mm/vmstat.c
(``vmstat_show``: ``name value``) and mm/swapfile.c (``swap_show``). Each view is available as
text (exactly as the kernel prints it) and as a dict.
"""

from __future__ import annotations

from typing import Final

from vswap._mypyc import trait
from vswap.kernel.types import PAGE_SIZE
from vswap.mm._base import MachineBase

#: The /proc/meminfo lines the model provides, in the kernel's order.
MEMINFO_KEYS: Final = ("MemTotal", "MemFree", "SwapCached", "Active(anon)", "Inactive(anon)",
                "SwapTotal", "SwapFree", "Zswap", "Zswapped", "AnonPages", "Shmem",
                "ShmemHugePages")


@trait
class ProcfsMixin(MachineBase):
    """The /proc views of :class:`~vswap.mm.machine.Machine`."""

    def meminfo(self) -> dict[str, int]:
        """/proc/meminfo as a dict, values in kB."""
        kb = PAGE_SIZE // 1024
        free_swap, total_swap = self.design.devices.si_swapinfo()
        active = sum(lv.nr_active for lv in self.lruvecs.values())
        inactive = sum(lv.nr_inactive for lv in self.lruvecs.values())
        zswap_bytes = 0
        zswapped = 0
        if self.zswap is not None:
            zswap_bytes = self.zswap.pool_total_size
            zswapped = self.zswap.statistics().stored_pages
        return {
            "MemTotal": self.nr_pages * kb,
            "MemFree": max(self.nr_free_pages(), 0) * kb,
            "SwapCached": self.nr_swapcached() * kb,
            "Active(anon)": active * kb,
            "Inactive(anon)": inactive * kb,
            "SwapTotal": total_swap * kb,
            "SwapFree": free_swap * kb,
            "Zswap": zswap_bytes // 1024,
            "Zswapped": zswapped * kb,
            "AnonPages": self.nr_anon_mapped * kb,
            "Shmem": self.nr_shmem * kb,
            "ShmemHugePages": self.nr_shmem_hugepages * kb,
        }

    def proc_meminfo(self) -> str:
        """/proc/meminfo text (the subset in MEMINFO_KEYS)."""
        return "".join(f"{k + ':':<16}{v:>8} kB\n" for k, v in self.meminfo().items())

    def proc_vmstat(self) -> str:
        """/proc/vmstat text: the swap-related state and event counters."""
        state = {"nr_free_pages": max(self.nr_free_pages(), 0),
                 "nr_anon_pages": self.nr_anon_mapped,
                 "nr_swapcached": self.nr_swapcached(),
                 "nr_shmem": self.nr_shmem,
                 "nr_shmem_hugepages": self.nr_shmem_hugepages}
        return "".join(f"{k} {v}\n" for k, v in state.items()) + self.vmstat.format()

    def vmstat_dict(self) -> dict[str, int]:
        """/proc/vmstat as a dict."""
        out = {k: int(v) for k, v in (line.split() for line in self.proc_vmstat().splitlines())}
        return out

    def proc_swaps(self) -> str:
        """/proc/swaps text."""
        return self.design.devices.proc_swaps()

    def swaps(self) -> list[dict[str, object]]:
        """/proc/swaps as a list of dicts (Filename, Type, Size, Used, Priority; kB)."""
        return [{"Filename": d.name, "Type": d.kind, "Size": d.size_kib, "Used": d.used_kib,
                 "Priority": d.prio}
                for d in self.design.devices.device_infos()]
