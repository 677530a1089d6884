"""zswap's pools: one zsmalloc pool per compressor, the newest current.

Models: the "pool functions" of mm/zswap.c (v6.14): ``zswap_pool_create()``,
``zswap_pool_find_get()`` (a compressor that already has a pool reuses it),
``zswap_pool_current()``, ``__zswap_pool_empty()`` (a pool that is no longer current is
destroyed when its last object goes) and ``zswap_total_pages()``.

Invariants: ``nr[i]`` is the number of live zswap entries in pool ``i`` (its zsmalloc handle
count); a slot is None once its pool was destroyed, and pool ids are never reused (an entry's
``pool`` column stays meaningful); the current pool is always live.
"""

from __future__ import annotations

from vswap.zswap.compressors import Compressor, get_compressor
from vswap.zswap.zsmalloc import ZsPool

__all__ = ["ZswapPools"]


class ZswapPools:
    """The (compressor, zsmalloc pool) pairs of one zswap.

    Args:
        compressor: the initial current compressor.
        max_pages: page budget of each zsmalloc pool (``alloc_page`` failing past it).
    """

    __slots__ = ("cur", "max_pages", "nr", "pools")

    def __init__(self, compressor: str, max_pages: int | None) -> None:
        self.max_pages = max_pages
        self.pools: list[tuple[Compressor, ZsPool] | None] = []
        #: Objects per pool.
        self.nr: list[int] = []
        #: The current pool's id (``zswap_pool_current``).
        self.cur = self.zswap_pool_find_create(compressor)

    def zswap_pool_find_create(self, name: str) -> int:
        """The id of a live pool for compressor ``name``, created if there is none.

        Raises:
            ConfigError: no such compressor.
        """
        comp = get_compressor(name)
        for i, p in enumerate(self.pools):
            if p is not None and p[0].name == name:
                return i
        self.pools.append((comp, ZsPool(f"zswap{len(self.pools) + 1:x}",
                                        max_pages=self.max_pages)))
        self.nr.append(0)
        return len(self.pools) - 1

    def get(self, pool_id: int) -> tuple[Compressor, ZsPool]:
        """The (compressor, zsmalloc pool) of a pool that holds entries (so is live)."""
        pool = self.pools[pool_id]
        assert pool is not None, f"zswap pool {pool_id} is gone"
        return pool

    def obj_free(self, pool_id: int, handle: int) -> None:
        """Free one object; destroy the pool if it was its last and it is not current."""
        self.get(pool_id)[1].zs_free(handle)
        self.nr[pool_id] -= 1
        if not self.nr[pool_id] and pool_id != self.cur:
            self.pools[pool_id] = None  # __zswap_pool_empty

    def zswap_total_pages(self) -> int:
        """Models: ``zswap_total_pages()``: pages of every pool."""
        total = 0
        for p in self.pools:
            if p is not None:
                total += p[1].pages_allocated
        return total

    def live(self) -> list[ZsPool]:
        """The live zsmalloc pools (the current one last created)."""
        return [p[1] for p in self.pools if p is not None]

    def check_invariants(self, pool_of: list[int]) -> None:
        """Raise AssertionError unless each live pool is consistent and holds exactly the
        objects of the entries whose pool ``pool_of`` names (one item per live entry)."""
        assert self.pools[self.cur] is not None, "the current pool is gone"
        for pid, p in enumerate(self.pools):
            if p is not None:
                p[1].check_invariants()
                assert p[1].nr_handles == self.nr[pid] == pool_of.count(pid), (
                    "pool object count")
