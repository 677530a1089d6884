"""The integrity oracle: every page read back equals what was last written to it.

Not a kernel structure: the model's own check (the issue's "Integrity" requirement). When a
folio gets swap entries (``add_to_swap``) or is written out after a task changed it, the
64-bit hash of each page is recorded under its swap entry. Every page read back (from the zero
map, zswap, a device, or found in the swap cache while unchanged) is hashed and compared; a
mismatch raises :class:`vswap.kernel.errors.DataLossError` naming the task, the address, the entry
and the path the page took. The check can be switched off for speed runs
(``MachineConfig(verify=False)``); results then report ``verified=False``.

Hashing uses Python's 64-bit ``hash`` of the page bytes (SipHash, seeded per process): equal
within one run, which is all the oracle needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vswap.kernel.errors import DataLossError
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.mm.mm_types import Task


@dataclass
class OracleStats:
    """What the oracle did: pages recorded, checked, and read with no record to check."""

    enabled: bool
    recorded: int = 0
    checked: int = 0
    unverified: int = 0


class PageOracle:
    """Per-swap-entry page hashes."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.by_entry: dict[int, int] = {}
        self.stats = OracleStats(enabled)

    def record_folio(self, folio: Folio) -> None:
        """Record every page of a folio that holds swap entries ``folio.swap + i``."""
        if not self.enabled:
            return
        data = folio.data
        base = folio.swap
        by = self.by_entry
        if folio.order == 0:
            by[base] = hash(bytes(data))
        else:
            for i in range(folio.nr_pages):
                by[base + i] = hash(bytes(data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]))
        self.stats.recorded += folio.nr_pages

    def verify(self, folio: Folio, idx: int, entry: int, task: Task | None, vpn: int,
               path: str) -> None:
        """Compare page ``idx`` of ``folio``, read for ``entry``, with the record.

        Raises:
            DataLossError: the bytes differ, or ``entry`` has no record (names task,
                address, entry and path).
        """
        if not self.enabled:
            return
        want = self.by_entry.get(entry)
        if want is None:
            # Every entry a page is read from was recorded when it was allocated: a read with
            # no record is a read of a slot nothing wrote (or one already freed).
            self.stats.unverified += 1
            who = f"{task.comm}[{task.pid}]" if task is not None else "swapoff"
            raise DataLossError(
                f"{who}: page at {vpn << PAGE_SHIFT:#x} read via {path} from swap entry "
                f"{entry:#x}, which the oracle has no record of")
        data = folio.data
        if folio.order == 0:
            got = hash(bytes(data))
        else:
            got = hash(bytes(data[idx * PAGE_SIZE:(idx + 1) * PAGE_SIZE]))
        self.stats.checked += 1
        if got != want:
            who = f"{task.comm}[{task.pid}]" if task is not None else "swapoff"
            raise DataLossError(
                f"{who}: page at {vpn << PAGE_SHIFT:#x} (swap entry {entry:#x}) read via "
                f"{path} differs from what was last written to it")

    def forget(self, entry: int, nr: int = 1) -> None:
        for e in range(entry, entry + nr):
            self.by_entry.pop(e, None)
