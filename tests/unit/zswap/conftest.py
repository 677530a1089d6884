"""A fake swap design for the zswap tests: a dict swap cache, a dict device, two tree layouts.

``FakeHost(mode="classic")`` keys trees like the classic design ((type, offset >> 14), index =
offset) and has a pre-reserved slot per entry. ``FakeHost(mode="vswap")`` keys one global tree
by the entry value, keeps a per-entry backend record like the RFC's descriptor (ZSWAP(id),
FOLIO, SWAPFILE) and allocates a physical slot at writeback time from ``free_slots``.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Hashable

import pytest

from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MemCgroup, MemCgroupTree
from vswap.kernel.types import PAGE_SIZE, SwpEntry, swp_entry
from vswap.zswap.zswap import (
    Zswap,
    ZswapParams,
    classic_zswap_tree_index,
    classic_zswap_tree_key,
)


class FakeHost:
    """A minimal swap design implementing ``ZswapHost``."""

    def __init__(self, mode: str = "classic", free_slots: int = 1 << 30) -> None:
        self.mode = mode
        self.swap_cache: dict[int, Folio] = {}
        self.device: dict[int, bytes] = {}
        self.backend: dict[int, tuple[str, int]] = {}
        self.free_slots = free_slots
        self.dead: set[int] = set()
        self.fail_folio_alloc = False
        self.on_prepare: Callable[[SwpEntry], None] | None = None
        self.calls: list[tuple[str, int]] = []
        self.next_slot = 1

    # -- ZswapHost ---------------------------------------------------------------------
    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        return classic_zswap_tree_key(entry) if self.mode == "classic" else "global"

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        return classic_zswap_tree_index(entry) if self.mode == "classic" else int(entry)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        self.calls.append(("stored", entry))
        if self.mode == "vswap":
            self.backend[entry] = ("zswap", zentry)

    def zswap_store_undone(self, folio: Folio) -> None:
        self.calls.append(("undone", folio.swap))
        if self.mode == "vswap":
            for i in range(folio.nr_pages):
                self.backend[folio.swap + i] = ("folio", 0)

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        self.calls.append(("loaded", folio.swap))
        if self.mode == "vswap":
            self.backend[folio.swap] = ("folio", 0)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        self.calls.append(("prepare", entry))
        if self.on_prepare is not None:
            self.on_prepare(entry)
        if entry in self.swap_cache:
            return Errno.EEXIST
        if entry in self.dead or self.fail_folio_alloc:
            return Errno.ENOMEM
        folio = Folio(0)
        folio.folio_lock()
        self.add_to_swap_cache(folio, entry)
        if self.mode == "vswap":
            if self.free_slots <= 0:
                self.delete_from_swap_cache(folio)
                folio.folio_unlock()
                return Errno.ENOMEM
            self.free_slots -= 1
            self.backend[entry] = ("slot", self.next_slot)
            self.next_slot += 1
        return folio

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        self.calls.append(("abort", folio.swap))
        if self.mode == "vswap" and self.backend.get(folio.swap, ("", 0))[0] == "slot":
            self.free_slots += 1
            self.backend[folio.swap] = ("zswap", zentry)
        self.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def zswap_writeback_submit(self, folio: Folio) -> None:
        self.calls.append(("submit", folio.swap))
        assert folio.uptodate and folio.locked and not folio.dirty
        self.device[folio.swap] = bytes(folio.data)
        folio.folio_unlock()  # the write completed

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        return self.mode == "classic" or self.free_slots > 0

    # -- helpers -----------------------------------------------------------------------
    def add_to_swap_cache(self, folio: Folio, entry: int) -> None:
        folio.swap = SwpEntry(entry)
        folio.swapcache = True
        for i in range(folio.nr_pages):
            self.swap_cache[entry + i] = folio

    def delete_from_swap_cache(self, folio: Folio) -> None:
        for i in range(folio.nr_pages):
            del self.swap_cache[folio.swap + i]
        folio.swapcache = False


def usemem_page(base: int) -> bytes:
    """usemem's pattern: every 8-byte little-endian word holds its index."""
    return struct.pack("<512Q", *range(base, base + 512))


def text_page(seed: int) -> bytes:
    rng = random.Random(seed)
    words = ["swap", "zswap", "entry", "folio", "memcg", "the", "page", "slot", "cluster",
             "compress", "kernel", "reclaim", "writeback", "virtual", "a", "of", "to"]
    out = []
    size = 0
    while size < PAGE_SIZE:
        w = rng.choice(words) + (". " if rng.random() < 0.1 else " ")
        out.append(w)
        size += len(w)
    return "".join(out).encode()[:PAGE_SIZE]


def random_page(seed: int) -> bytes:
    return random.Random(seed).randbytes(PAGE_SIZE)


class Machine:
    """zswap + cgroups + vmstat + a fake host, with helpers to swap folios out and in."""

    def __init__(self, mode: str = "classic", *, total_ram_pages: int = 1 << 18,
                 params: ZswapParams | None = None, free_slots: int = 1 << 30,
                 pool_max_pages: int | None = None, with_memcg: bool = True,
                 cgroup_version: int = 2) -> None:
        self.host = FakeHost(mode, free_slots)
        self.env = KernelEnv(memcgs=MemCgroupTree(cgroup_version))
        self.memcgs = self.env.memcgs if with_memcg else None
        self.vmstat = self.env.vmstat
        self.zswap = Zswap(self.host, total_ram_pages=total_ram_pages, params=params,
                           env=self.env, memcg_disabled=not with_memcg,
                           pool_max_pages=pool_max_pages)
        self.next_offset = 1
        self.type = 0 if mode == "classic" else None

    def entry(self, n: int) -> SwpEntry:
        return swp_entry(0, n) if self.host.mode == "classic" else SwpEntry(n)

    def new_folio(self, data: bytes, memcg: MemCgroup | None = None, order: int = 0) -> Folio:
        return Folio(order, data, memcg.id if memcg is not None else 0)

    def swapout(self, data: bytes, memcg: MemCgroup | None = None, order: int = 0,
                at: int | None = None) -> tuple[bool, SwpEntry]:
        """Put a new folio in the swap cache, zswap_store it, and drop it on success."""
        nr = 1 << order
        if at is None:
            at = self.next_offset
            self.next_offset += nr
        entry = self.entry(at)
        folio = self.new_folio(data, memcg, order)
        folio.folio_lock()
        self.host.add_to_swap_cache(folio, entry)
        ok = self.zswap.zswap_store(folio)
        if ok:
            self.host.delete_from_swap_cache(folio)
        folio.folio_unlock()
        return ok, entry

    def swapin(self, entry: SwpEntry, memcg: MemCgroup | None = None,
               swapcache: bool = True) -> tuple[bool, Folio]:
        folio = Folio(0, None, memcg.id if memcg is not None else 0)
        folio.folio_lock()
        if swapcache:
            self.host.add_to_swap_cache(folio, entry)
        else:
            folio.swap = entry
        hit = self.zswap.zswap_load(folio)
        if swapcache:
            self.host.delete_from_swap_cache(folio)
        folio.folio_unlock()
        return hit, folio


@pytest.fixture
def machine() -> Machine:
    return Machine("classic")


@pytest.fixture(params=["classic", "vswap"])
def any_machine(request: pytest.FixtureRequest) -> Machine:
    return Machine(request.param)


@pytest.fixture
def helpers() -> type[Helpers]:
    return Helpers


class Helpers:
    usemem_page = staticmethod(usemem_page)
    text_page = staticmethod(text_page)
    random_page = staticmethod(random_page)
    Machine = Machine
    FakeHost = FakeHost
