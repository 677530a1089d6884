"""The swap cache: folios (and workingset shadows) keyed by swap entry.

Models: mm/swap_state.c at v6.14: ``add_to_swap_cache()``, ``__delete_from_swap_cache()``,
``delete_from_swap_cache()``, ``swap_cache_get_folio()``, ``get_shadow_from_swap_cache()``,
``clear_shadow_from_swap_cache()``, and the address-space split: the classic design has one
``address_space`` (one XArray, one ``i_pages`` lock) per 64 MiB of each device; the seed's
virtual design has one for the whole system (patch 07). The split is a *key function* given
by the design, so the same cache serves both, and each space is one lock identity for the
contention model.

Each slot holds a :class:`~vswap.kernel.folio.Folio` or a shadow. Shadows are plain ``int``s
(``pack_shadow``), so an evicted page costs one small int, not an object.

Invariants (:meth:`SwapCache.check_invariants`):

* A folio of ``nr`` pages at entry ``e`` occupies indices ``e .. e+nr-1`` of its space, and
  nothing else; ``folio.swap == e`` and ``folio.swapcache`` is set.
* ``nr_pages`` equals the pages of all folios in the cache (``NR_SWAPCACHE``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import NO_ENTRY, SwpEntry

#: Bits of a packed shadow (mm/workingset.c packs memcg id, node, eviction counter).
_SHADOW_MEMCG_BITS = 16


def pack_shadow(memcg_id: int, eviction: int, workingset: bool) -> int:
    """Models: ``pack_shadow()`` (mm/workingset.c): memcg id, eviction age, workingset bit."""
    return (eviction << (_SHADOW_MEMCG_BITS + 1)) | (memcg_id << 1) | int(workingset)


def unpack_shadow(shadow: int) -> tuple[int, int, bool]:
    """Models: ``unpack_shadow()``: (memcg_id, eviction, workingset)."""
    return ((shadow >> 1) & ((1 << _SHADOW_MEMCG_BITS) - 1),
            shadow >> (_SHADOW_MEMCG_BITS + 1), bool(shadow & 1))


class SwapCache:
    """The swap cache of one design.

    ``space_of(entry)`` names the address space (and lock) an entry belongs to, and
    ``index_of(entry)`` its index there: ``(type, offset >> 14)`` and ``offset & 0x3fff`` in
    the classic design; one space and ``entry`` itself under the seed's virtual design.
    """

    def __init__(self, space_of: Callable[[SwpEntry], Hashable],
                 index_of: Callable[[SwpEntry], int], *, env: KernelEnv | None = None) -> None:
        self.env = env if env is not None else KernelEnv()
        self.space_of = space_of
        self.index_of = index_of
        self.spaces: dict[Hashable, dict[int, Folio | int]] = {}
        self.nr_pages = 0
        #: Called with each folio after it left the cache (the cache's reference is gone);
        #: the design points it at ``SwapHooks.swapcache_folio_deleted``.
        self.folio_deleted: Callable[[Folio], None] = lambda folio: None

    @property
    def tracer(self) -> KernelTracer:
        """The env's kernel-step hooks: each locked operation names its space's lock."""
        return self.env.tracer

    def _space(self, entry: SwpEntry, *, create: bool) -> dict[int, Folio | int] | None:
        key = self.space_of(entry)
        space = self.spaces.get(key)
        if space is None and create:
            space = self.spaces[key] = {}
        return space

    def _locked(self, entry: SwpEntry, cost: Cost = Cost.SWAP_CACHE_DELETE) -> Hashable:
        """Count one ``i_pages`` lock section of the entry's space; ``cost`` names the cost
        table entry of the work done under it (for the timed run's tracer)."""
        key = self.space_of(entry)
        self.tracer.lock_step("swap_cache", key, cost)
        return key

    def swap_address_space(self, entry: SwpEntry) -> Hashable:
        """Models: ``swap_address_space()``: the identity of the entry's space (its lock)."""
        return self.space_of(entry)

    def add_to_swap_cache(self, folio: Folio, entry: SwpEntry) -> tuple[int, int | None]:
        """Insert ``folio`` at ``entry .. entry+nr-1``.

        Models: ``add_to_swap_cache()``. Context: folio locked, not yet in the swap cache, its
        entries pinned by the caller (``SWAP_HAS_CACHE`` or the vswap cache pin).

        Returns:
            ``(0, shadow)`` on success, where shadow is the workingset shadow the insert
            replaced at the first index (or None); ``(-EEXIST, None)`` if any index already
            holds a folio, with nothing changed.
        """
        nr = folio.nr_pages
        self._locked(entry, Cost.SWAP_CACHE_INSERT)
        space = self._space(entry, create=True)
        assert space is not None
        base = self.index_of(entry)
        for i in range(nr):
            if isinstance(space.get(base + i), Folio):
                return -Errno.EEXIST, None
        old = space.get(base)
        shadow = old if isinstance(old, int) else None
        for i in range(nr):
            space[base + i] = folio
        folio.swap = entry
        folio.swapcache = True
        self.nr_pages += nr
        return 0, shadow

    def _delete_from_swap_cache(self, folio: Folio, entry: SwpEntry,
                                shadow: int | None) -> None:
        """Remove ``folio``, leaving ``shadow`` (or nothing) in its slots.

        Models: ``__delete_from_swap_cache()``. Context: folio locked, in the swap cache, not
        under writeback. The entries' cache pins are *not* dropped here (``put_swap_folio``).
        The cache's folio reference is dropped: :attr:`folio_deleted` is told.
        """
        self._locked(entry)
        space = self._space(entry, create=False)
        base = self.index_of(entry)
        if space is None or space.get(base) is not folio:
            raise AssertionError(f"__delete_from_swap_cache: {folio!r} not at {entry:#x}")
        for i in range(folio.nr_pages):
            if shadow is None:
                del space[base + i]
            else:
                space[base + i] = shadow
        if not space:
            del self.spaces[self.space_of(entry)]
        folio.swap = NO_ENTRY
        folio.swapcache = False
        self.nr_pages -= folio.nr_pages
        self.folio_deleted(folio)

    def replace_folio(self, old: Folio, new: Folio) -> None:
        """Point the slots of ``new``'s range (``new.swap .. +nr``) at ``new`` instead of
        ``old``.

        Models: ``__swap_cache_replace_folio()`` (6.18, the helper migration and a split
        share); at v6.14 the ``xas_store`` loops of ``__folio_migrate_mapping()`` (the whole
        range) and ``__split_huge_page()`` (one new folio's part of it). Context: both folios
        locked; the caller set ``new.swap`` (inside ``old``'s range) and PG_swapcache, and
        clears ``old``'s once no slot holds it. ``NR_SWAPCACHE`` does not change.
        """
        entry = new.swap
        self._locked(entry, Cost.SWAP_CACHE_INSERT)
        space = self._space(entry, create=False)
        base = self.index_of(entry)
        for i in range(new.nr_pages):
            if space is None or space.get(base + i) is not old:
                raise AssertionError(f"__swap_cache_replace_folio: {old!r} not at "
                                     f"{entry + i:#x}")
        assert space is not None
        for i in range(new.nr_pages):
            space[base + i] = new

    def swap_cache_get_folio(self, entry: SwpEntry) -> Folio | None:
        """Models: the lookup half of ``swap_cache_get_folio()`` / ``filemap_get_folio()``."""
        self.tracer.swap_cache_lookup()
        space = self._space(entry, create=False)
        if space is None:
            return None
        v = space.get(self.index_of(entry))
        return v if isinstance(v, Folio) else None

    def get_shadow_from_swap_cache(self, entry: SwpEntry) -> int | None:
        """Models: ``get_shadow_from_swap_cache()``."""
        space = self._space(entry, create=False)
        if space is None:
            return None
        v = space.get(self.index_of(entry))
        return v if isinstance(v, int) else None

    def clear_shadow(self, entry: SwpEntry, nr: int = 1) -> int:
        """Drop shadows at ``entry .. entry+nr-1`` (folios stay). Returns shadows cleared.

        Models: ``clear_shadow_from_swap_cache()`` (classic, on physical free) and
        ``virt_clear_shadow_from_swap_cache()`` (vswap, on virtual free). ``nr`` entries
        must lie in one space.
        """
        space = self._space(entry, create=False)
        if space is None:
            return 0
        self._locked(entry)
        base = self.index_of(entry)
        cleared = 0
        for i in range(nr):
            if isinstance(space.get(base + i), int):
                del space[base + i]
                cleared += 1
        if not space:
            del self.spaces[self.space_of(entry)]
        return cleared

    def move_shadow(self, old: SwpEntry, new: SwpEntry) -> None:
        """Carry the workingset shadow at ``old`` (if any) to ``new``: the page moved slots
        under swapfile compaction (classic), so its refault must find its eviction time."""
        shadow = self.get_shadow_from_swap_cache(old)
        if shadow is None:
            return
        self.clear_shadow(old, 1)
        space = self._space(new, create=True)
        assert space is not None
        self._locked(new, Cost.SWAP_CACHE_INSERT)
        space.setdefault(self.index_of(new), shadow)

    def folios(self) -> Iterator[Folio]:
        """Every distinct folio in the cache."""
        seen: set[int] = set()
        for space in self.spaces.values():
            for v in space.values():
                if isinstance(v, Folio) and id(v) not in seen:
                    seen.add(id(v))
                    yield v

    def nr_shadows(self) -> int:
        """Shadow entries held (workingset)."""
        return sum(1 for space in self.spaces.values() for v in space.values()
                   if isinstance(v, int))

    def metadata_bytes(self) -> int:
        """XArray node bytes of all spaces, from their occupied indices (lib/xarray.c)."""
        return sum(sizes.xarray_bytes(space.keys()) for space in self.spaces.values())

    def check_invariants(self) -> None:
        """Raise AssertionError unless the module-docstring invariants hold."""
        pages = 0
        for folio in self.folios():
            assert folio.swapcache and folio.swap, f"{folio!r} in cache without swap entry"
            space = self._space(folio.swap, create=False)
            assert space is not None
            base = self.index_of(folio.swap)
            for i in range(folio.nr_pages):
                assert space.get(base + i) is folio, f"{folio!r} missing at index {base + i}"
            pages += folio.nr_pages
        for space in self.spaces.values():
            for idx, v in space.items():
                if isinstance(v, Folio):
                    base = self.index_of(v.swap)
                    assert base <= idx < base + v.nr_pages, "folio at a foreign index"
        assert pages == self.nr_pages, f"NR_SWAPCACHE {self.nr_pages} != {pages}"
