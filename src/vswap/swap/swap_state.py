"""The swap cache: folios (and workingset shadows) keyed by swap entry.

Models: mm/swap_state.c at v6.14: ``add_to_swap_cache()``, ``__delete_from_swap_cache()``,
``delete_from_swap_cache()``, ``swap_cache_get_folio()``, ``get_shadow_from_swap_cache()``,
``clear_shadow_from_swap_cache()``, and the address-space split: the classic design has one
``address_space`` (one XArray, one ``i_pages`` lock) per 64 MiB of each device; the seed's
virtual design has one for the whole system (patch 07). The split is a *key function* given
by the design, so the same cache serves both, and each space is one lock identity for the
contention model.

Each index of a space holds a :class:`~vswap.kernel.folio.Folio`, a shadow or nothing, as
a slot of the kernel's XArray does. The model keeps the two apart (:class:`SwapCacheSpace`):
folios, which are few (they are resident: the swap cache holds a folio only until reclaim
frees it), in a dict by index; shadows, one per swapped-out page, as 8-byte words in arrays
of :data:`SHADOW_CHUNK` indices (``shadow << 1 | 1``, the kernel's ``xa_mk_value``; 0 is
NULL), allocated when a chunk gets its first shadow and freed with its last, as the XArray
allocates and frees its nodes. A swapped-out page so costs the model 8 bytes here, the
kernel's own 8-byte slot, instead of a dict entry and an int (about 100 bytes).

Invariants (:meth:`SwapCache.check_invariants`):

* A folio of ``nr`` pages at entry ``e`` occupies indices ``e .. e+nr-1`` of its space, and
  nothing else; ``folio.swap == e`` and ``folio.swapcache`` is set.
* An index holds a folio or a shadow, never both; a chunk's count is its shadows and no
  chunk or space is kept empty.
* ``nr_pages`` equals the pages of all folios in the cache (``NR_SWAPCACHE``).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterator
from typing import Final

import numpy as np

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.sizes import xarray_nodes_of
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import NO_ENTRY, SwpEntry

#: Bits of a packed shadow (mm/workingset.c packs memcg id, node, eviction counter).
_SHADOW_MEMCG_BITS: Final = 16

#: Indices per shadow chunk: a swap cluster's worth (``SWAPFILE_CLUSTER``, the swap table's
#: unit; a vswap cluster's too), 4 KiB of words.
SHADOW_CHUNK_SHIFT: Final = 9
SHADOW_CHUNK: Final = 1 << SHADOW_CHUNK_SHIFT
_CHUNK_MASK: Final = SHADOW_CHUNK - 1
_ZERO_CHUNK = bytes(8 * SHADOW_CHUNK)


def pack_shadow(memcg_id: int, eviction: int, workingset: bool) -> int:
    """Models: ``pack_shadow()`` (mm/workingset.c): memcg id, eviction age, workingset bit."""
    return (eviction << (_SHADOW_MEMCG_BITS + 1)) | (memcg_id << 1) | int(workingset)


def unpack_shadow(shadow: int) -> tuple[int, int, bool]:
    """Models: ``unpack_shadow()``: (memcg_id, eviction, workingset)."""
    return ((shadow >> 1) & ((1 << _SHADOW_MEMCG_BITS) - 1),
            shadow >> (_SHADOW_MEMCG_BITS + 1), bool(shadow & 1))


__all__ = ["SHADOW_CHUNK", "SwapCache", "SwapCacheSpace", "pack_shadow", "unpack_shadow",
           "xarray_nodes_of"]


class SwapCacheSpace:
    """One address space of the swap cache (one XArray): folios by index, shadow words by
    chunk. See the module docstring."""

    __slots__ = ("folios", "shadows", "used")

    def __init__(self) -> None:
        #: Index -> the folio cached there (each index of a large folio).
        self.folios: dict[int, Folio] = {}
        #: Chunk (``index >> SHADOW_CHUNK_SHIFT``) -> its words: ``shadow << 1 | 1`` or 0.
        self.shadows: dict[int, array[int]] = {}
        #: Chunk -> shadows it holds (the chunk is freed at 0).
        self.used: dict[int, int] = {}

    def __bool__(self) -> bool:
        return bool(self.folios) or bool(self.shadows)

    def get_shadow(self, index: int) -> int | None:
        """The shadow at ``index``, or None."""
        words = self.shadows.get(index >> SHADOW_CHUNK_SHIFT)
        if words is None:
            return None
        w = words[index & _CHUNK_MASK]
        return w >> 1 if w else None

    def set_shadow(self, index: int, shadow: int) -> None:
        """Store ``shadow`` at ``index`` (``xa_mk_value``), allocating its chunk."""
        c = index >> SHADOW_CHUNK_SHIFT
        words = self.shadows.get(c)
        if words is None:
            words = self.shadows[c] = array("Q", _ZERO_CHUNK)
            self.used[c] = 0
        i = index & _CHUNK_MASK
        if not words[i]:
            self.used[c] += 1
        words[i] = shadow << 1 | 1

    def take_shadow(self, index: int) -> int | None:
        """Clear the shadow at ``index`` and return it (None: there was none); the chunk is
        freed with its last shadow."""
        c = index >> SHADOW_CHUNK_SHIFT
        words = self.shadows.get(c)
        if words is None:
            return None
        i = index & _CHUNK_MASK
        w = words[i]
        if not w:
            return None
        words[i] = 0
        left = self.used[c] - 1
        if left:
            self.used[c] = left
        else:
            del self.shadows[c], self.used[c]
        return w >> 1

    def shadow_indices(self, extra: int = 0) -> np.ndarray:
        """Indices holding a shadow (int64, ascending by chunk), followed by ``extra``
        unset places for the caller: one array filled chunk by chunk, not a list of parts
        and their concatenation (the metadata snapshot, at the run's peak, builds it)."""
        out = np.empty(sum(self.used.values()) + extra, dtype=np.int64)
        pos = 0
        for c, words in self.shadows.items():
            nz = np.flatnonzero(np.frombuffer(words, dtype=np.uint64))
            out[pos:pos + nz.size] = nz
            out[pos:pos + nz.size] += c << SHADOW_CHUNK_SHIFT
            pos += nz.size
        return out


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
        self.spaces: dict[Hashable, SwapCacheSpace] = {}
        self.nr_pages = 0
        #: Called with each folio after it left the cache (the cache's reference is gone);
        #: the design points it at ``SwapHooks.swapcache_folio_deleted``.
        self.folio_deleted: Callable[[Folio], None] = lambda folio: None

    @property
    def tracer(self) -> KernelTracer:
        """The env's kernel-step hooks: each locked operation names its space's lock."""
        return self.env.tracer

    def _space(self, entry: SwpEntry, *, create: bool) -> SwapCacheSpace | None:
        key = self.space_of(entry)
        space = self.spaces.get(key)
        if space is None and create:
            space = self.spaces[key] = SwapCacheSpace()
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
        folios = space.folios
        for i in range(base, base + nr):
            if i in folios:
                return -Errno.EEXIST, None
        shadow = None
        if space.shadows:
            # The folio's slots replace whatever shadows they held (xas_store); the first
            # one's is returned for the refault.
            shadow = space.take_shadow(base)
            for i in range(base + 1, base + nr):
                space.take_shadow(i)
        for i in range(base, base + nr):
            folios[i] = folio
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
        if space is None or space.folios.get(base) is not folio:
            raise AssertionError(f"__delete_from_swap_cache: {folio!r} not at {entry:#x}")
        folios = space.folios
        for i in range(base, base + folio.nr_pages):
            del folios[i]
            if shadow is not None:
                space.set_shadow(i, shadow)
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
            if space is None or space.folios.get(base + i) is not old:
                raise AssertionError(f"__swap_cache_replace_folio: {old!r} not at "
                                     f"{entry + i:#x}")
        assert space is not None
        for i in range(base, base + new.nr_pages):
            space.folios[i] = new

    def swap_cache_get_folio(self, entry: SwpEntry) -> Folio | None:
        """Models: the lookup half of ``swap_cache_get_folio()`` / ``filemap_get_folio()``."""
        self.tracer.swap_cache_lookup()
        space = self.spaces.get(self.space_of(entry))
        if space is None:
            return None
        return space.folios.get(self.index_of(entry))

    def get_shadow_from_swap_cache(self, entry: SwpEntry) -> int | None:
        """Models: ``get_shadow_from_swap_cache()``."""
        space = self.spaces.get(self.space_of(entry))
        if space is None:
            return None
        return space.get_shadow(self.index_of(entry))

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
        if not space.shadows:
            return 0
        base = self.index_of(entry)
        cleared = 0
        for i in range(base, base + nr):
            if space.take_shadow(i) is not None:
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
        index = self.index_of(new)
        if index not in space.folios and space.get_shadow(index) is None:
            space.set_shadow(index, shadow)

    def folios(self) -> Iterator[Folio]:
        """Every distinct folio in the cache."""
        seen: set[int] = set()
        for space in self.spaces.values():
            for v in space.folios.values():
                if id(v) not in seen:
                    seen.add(id(v))
                    yield v

    def nr_shadows(self) -> int:
        """Shadow entries held (workingset)."""
        return sum(sum(space.used.values()) for space in self.spaces.values())

    def metadata_bytes(self) -> int:
        """XArray node bytes of all spaces, from their occupied indices (lib/xarray.c)."""
        nodes = 0
        for space in self.spaces.values():
            # One int64 per occupied index, counted in place (the snapshot is the peak).
            nf = len(space.folios)
            idx = space.shadow_indices(extra=nf)
            if nf:
                idx[idx.size - nf:] = np.fromiter(space.folios.keys(), dtype=np.int64,
                                                  count=nf)
            nodes += xarray_nodes_of(idx, owned=True)
        return nodes * sizes.XA_NODE_BYTES

    def check_invariants(self) -> None:
        """Raise AssertionError unless the module-docstring invariants hold."""
        pages = 0
        for folio in self.folios():
            assert folio.swapcache and folio.swap, f"{folio!r} in cache without swap entry"
            space = self._space(folio.swap, create=False)
            assert space is not None
            base = self.index_of(folio.swap)
            for i in range(folio.nr_pages):
                assert space.folios.get(base + i) is folio, (
                    f"{folio!r} missing at index {base + i}")
            pages += folio.nr_pages
        for space in self.spaces.values():
            assert space, "an empty swap-cache space kept"
            for idx, v in space.folios.items():
                base = self.index_of(v.swap)
                assert base <= idx < base + v.nr_pages, "folio at a foreign index"
                assert space.get_shadow(idx) is None, f"index {idx} holds a folio and a shadow"
            assert space.shadows.keys() == space.used.keys(), "shadow chunks without counts"
            for c, words in space.shadows.items():
                held = sum(1 for w in words if w)
                assert held == space.used[c] and held, (
                    f"shadow chunk {c}: {held} shadows, counted {space.used[c]}")
        assert pages == self.nr_pages, f"NR_SWAPCACHE {self.nr_pages} != {pages}"
