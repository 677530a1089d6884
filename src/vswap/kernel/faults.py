"""Fault injection at named points of the swap paths, deterministic by seed.

Not a kernel subsystem: the model's equivalent of the kernel's fault-injection framework
(``fail_make_request``, ``failslab``, ``fail_page_alloc``; Documentation/fault-injection/)
narrowed to the points where swap must not lose a page. One :class:`FaultInjector` is owned by
a run; it holds the run's only ``random.Random`` for faults, so a seed reproduces every
injected fault. Each point fails either at a rate (probability per call) or on an exact
schedule ("fail the Nth call", 1-based), or both.

=================== ============================== ===============================================
point               where (model function)         what the model does (kernel behaviour)
=================== ============================== ===============================================
``device_write``    ``SwapDesignBase.device_write`` the write is lost, the folio is re-dirtied and
                                                   stays in the swap cache with its slot; the
                                                   error is counted (``end_swap_bio_write``)
``device_read``     ``SwapDesignBase.device_read``  the folio stays !uptodate, the read fails;
                                                   the faulting task gets SIGBUS
                                                   (``end_swap_bio_read``, ``do_swap_page``)
``device_full``     ``SwapDevices.swap_slot_alloc`` no slot (``get_swap_pages`` finds none): the
                                                   page stays resident / in the swap cache
``zswap_compress``  ``Zswap._store_page``           the compressor fails (``zswap_compress``):
                                                   stored raw, or rejected with
                                                   ``reject_compress_fail`` when writeback is off
``zswap_alloc``     ``Zswap._store_page``           ``zs_malloc`` fails: ``reject_alloc_fail``,
                                                   the store is undone, the next backend is tried
``zswap_decompress`` ``Zswap._decompress``          the stored bytes fail to decompress (EIO):
                                                   the faulting task gets SIGBUS, the entry stays
``swapoff_eintr``   ``Machine.swapoff``             a signal is pending: ``try_to_unuse`` stops,
                                                   swapoff fails with EINTR, the device stays on
``swapoff_enomem``  ``Machine._hook_alloc_swapin_folio`` no folio during swapoff: it fails
                    (swapoff only)                 (ENOMEM), the device stays on
=================== ============================== ===============================================

``survived`` counts injected faults that a later full check (every readable page equals what
was written, reference counts and leak checks hold) found harmless: a checker calls
:meth:`FaultInjector.mark_survived` after such a check.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from vswap.errors import ConfigError

#: Every fault point, in the order of the table above.
FAULT_POINTS: Final[tuple[str, ...]] = (
    "device_write",
    "device_read",
    "device_full",
    "zswap_compress",
    "zswap_alloc",
    "zswap_decompress",
    "swapoff_eintr",
    "swapoff_enomem",
)


@dataclass(frozen=True)
class FaultStats:
    """Per point: calls that could have failed, faults injected, faults survived."""

    calls: dict[str, int]
    injected: dict[str, int]
    survived: dict[str, int]

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())

    @property
    def total_survived(self) -> int:
        return sum(self.survived.values())


class FaultInjector:
    """Decides, per call of a named point, whether that call fails.

    ``rates``: point -> probability in [0, 1]; ``schedule``: point -> 1-based call numbers
    that fail. ``seed`` seeds the injector's own generator. Unknown point names are a
    :class:`ConfigError`. :meth:`suspend` (a context manager) turns injection off, for
    checkers that must read pages without failing.
    """

    def __init__(self, *, seed: int = 0, rates: Mapping[str, float] | None = None,
                 schedule: Mapping[str, Iterable[int]] | None = None) -> None:
        self.rng = random.Random(seed)
        self.rates: dict[str, float] = {}
        self.schedule: dict[str, set[int]] = {}
        for name, rate in (rates or {}).items():
            self._check_point(name)
            if not 0.0 <= float(rate) <= 1.0:
                raise ConfigError(f"fault rate for {name}: {rate!r} is not in [0, 1]")
            if rate:
                self.rates[name] = float(rate)
        for name, calls in (schedule or {}).items():
            self._check_point(name)
            nth = set(calls)
            if any(not isinstance(n, int) or n < 1 for n in nth):
                raise ConfigError(f"fault schedule for {name}: call numbers start at 1")
            if nth:
                self.schedule[name] = nth
        self.calls = dict.fromkeys(FAULT_POINTS, 0)
        self.injected = dict.fromkeys(FAULT_POINTS, 0)
        self.survived = dict.fromkeys(FAULT_POINTS, 0)
        self._suspended = 0

    @staticmethod
    def _check_point(name: str) -> None:
        if name not in FAULT_POINTS:
            raise ConfigError(f"unknown fault point {name!r} (known: {', '.join(FAULT_POINTS)})")

    @property
    def active(self) -> bool:
        """Whether any point can fail at all."""
        return bool(self.rates or self.schedule)

    def fail(self, point: str) -> bool:
        """One call of ``point``: True if it must fail now (counted as injected)."""
        if self._suspended or (point not in self.rates and point not in self.schedule):
            return False
        n = self.calls[point] = self.calls[point] + 1
        hit = n in self.schedule.get(point, ()) or (
            point in self.rates and self.rng.random() < self.rates[point])
        if hit:
            self.injected[point] += 1
        return hit

    def mark_survived(self) -> None:
        """Every fault injected so far was checked and found harmless."""
        self.survived = dict(self.injected)

    def suspend(self) -> _Suspend:
        """Context manager: no fault is injected inside it."""
        return _Suspend(self)

    def set_rates(self, rates: Mapping[str, float]) -> None:
        """Change rates mid-run (points absent from ``rates`` keep theirs)."""
        for name, rate in rates.items():
            self._check_point(name)
            if rate:
                self.rates[name] = float(rate)
            else:
                self.rates.pop(name, None)

    def statistics(self) -> FaultStats:
        return FaultStats(dict(self.calls), dict(self.injected), dict(self.survived))


class _Suspend:
    def __init__(self, inj: FaultInjector) -> None:
        self.inj = inj

    def __enter__(self) -> FaultInjector:
        self.inj._suspended += 1
        return self.inj

    def __exit__(self, *exc: object) -> None:
        self.inj._suspended -= 1


#: The injector of runs without faults: never fails.
NO_FAULTS = FaultInjector()
