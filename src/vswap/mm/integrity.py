"""The integrity oracle: every page read back equals what was last written to it.

Not a kernel structure: the model's own check (the issue's "Integrity" requirement). When a
folio gets swap entries (``add_to_swap``) or is written out after a task changed it, the
64-bit hash of each page is recorded under its swap entry. Every page read back (from the zero
map, zswap, a device, or found in the swap cache while unchanged) is hashed and compared; a
mismatch raises :class:`vswap.kernel.errors.DataLossError` naming the task, the address, the entry
and the path the page took. The check can be switched off for speed runs
(``MachineConfig(verify=False)``); results then report ``verified=False``.

Hashing uses Python's 64-bit ``hash`` of the page bytes (SipHash, seeded per process): equal
within one run, which is all the oracle needs. In compact page-data mode the hash is of the
page's token (:mod:`vswap.kernel.pagedata`), its content's identity and its write's version: a
page that comes back lost, stale or swapped with another fails, even where the bytes agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, overload

import numpy as np

from vswap.kernel.errors import DataLossError
from vswap.kernel.pagedata import PAGE_DATA
from vswap.kernel.types import PAGE_SHIFT, SWP_OFFSET_MASK, SWP_TYPE_SHIFT

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


class EntryTokens:
    """The oracle's records in compact page-data mode: each entry's token in a ``uint64``
    array per swap type, indexed by offset (8 bytes an entry, no Python object per entry;
    0 means no record, so a token is kept plus one). The subset of ``dict`` the oracle and
    swapoff's entry moves use."""

    #: Offsets past this go to a plain dict (an array would be too large to be sparse).
    MAX_ARRAY = 1 << 28

    def __init__(self) -> None:
        self._arrays: dict[int, np.ndarray] = {}
        self._big: dict[int, int] = {}

    def get(self, entry: int, default: int | None = None) -> int | None:
        off = entry & SWP_OFFSET_MASK
        if off >= self.MAX_ARRAY:
            return self._big.get(entry, default)
        a = self._arrays.get(entry >> SWP_TYPE_SHIFT)
        if a is None or off >= len(a):
            return default
        v = int(a[off])
        return v - 1 if v else default

    def __contains__(self, entry: int) -> bool:
        return self.get(entry) is not None

    def __getitem__(self, entry: int) -> int:
        v = self.get(entry)
        if v is None:
            raise KeyError(entry)
        return v

    def __setitem__(self, entry: int, tok: int) -> None:
        off = entry & SWP_OFFSET_MASK
        if off >= self.MAX_ARRAY:
            self._big[entry] = tok
            return
        t = entry >> SWP_TYPE_SHIFT
        a = self._arrays.get(t)
        if a is None or off >= len(a):
            n = max(off + 1, 2 * len(a) if a is not None else 1024)
            b = np.zeros(n, dtype=np.uint64)
            if a is not None:
                b[:len(a)] = a
            a = self._arrays[t] = b
        a[off] = tok + 1

    @overload
    def pop(self, entry: int) -> int: ...

    @overload
    def pop(self, entry: int, default: int | None) -> int | None: ...

    def pop(self, entry: int, default: object = KeyError) -> int | None:
        v = self.get(entry)
        if v is None:
            if default is KeyError:
                raise KeyError(entry)
            assert default is None or isinstance(default, int)
            return default
        off = entry & SWP_OFFSET_MASK
        if off >= self.MAX_ARRAY:
            del self._big[entry]
        else:
            self._arrays[entry >> SWP_TYPE_SHIFT][off] = 0
        return v


class PageOracle:
    """Per-swap-entry page hashes (in compact page-data mode, the pages' tokens)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.compact = PAGE_DATA.compact
        self.by_entry: dict[int, int] | EntryTokens = EntryTokens() if self.compact else {}
        self.stats = OracleStats(enabled)

    def record_folio(self, folio: Folio) -> None:
        """Record every page of a folio that holds swap entries ``folio.swap + i``."""
        if not self.enabled:
            return
        data = folio.data
        base = folio.swap
        by = self.by_entry
        if self.compact:
            for i in range(folio.nr_pages):
                by[base + i] = int.from_bytes(data[i * 8:(i + 1) * 8], "little")
            self.stats.recorded += folio.nr_pages
            return
        if folio.order == 0:
            by[base] = hash(bytes(data))
        else:
            s = len(data) >> folio.order  # PAGE_SIZE, or a token in compact mode
            for i in range(folio.nr_pages):
                by[base + i] = hash(bytes(data[i * s:(i + 1) * s]))
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
        if self.compact:
            got = int.from_bytes(data[idx * 8:(idx + 1) * 8], "little")
        elif folio.order == 0:
            got = hash(bytes(data))
        else:
            s = len(data) >> folio.order
            got = hash(bytes(data[idx * s:(idx + 1) * s]))
        self.stats.checked += 1
        if got != want:
            who = f"{task.comm}[{task.pid}]" if task is not None else "swapoff"
            raise DataLossError(
                f"{who}: page at {vpn << PAGE_SHIFT:#x} (swap entry {entry:#x}) read via "
                f"{path} differs from what was last written to it")

    def forget(self, entry: int, nr: int = 1) -> None:
        for e in range(entry, entry + nr):
            self.by_entry.pop(e, None)
