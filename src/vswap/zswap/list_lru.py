"""A memcg-aware LRU list of ids, as zswap uses it.

Models: mm/list_lru.c (v6.14) for one NUMA node: ``list_lru_add()``, ``list_lru_del()``,
``list_lru_count_one()``, ``list_lru_walk_one()`` with its ``enum lru_status`` callback
protocol (include/linux/list_lru.h), and ``memcg_reparent_list_lrus()``.

Representation: one insertion-ordered ``dict`` (id -> None) per list key (a memcg id). The
first key is the head, the oldest item, where a walk starts; ``list_lru_add`` appends at the
tail; rotating an item is delete + re-insert. An id is on at most one list.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence

__all__ = ["ListLru", "LruStatus"]


class LruStatus(enum.IntEnum):
    """What the walk callback did with one item (``enum lru_status``).

    ROTATE: referenced, given a second chance; REMOVED_RETRY: written back (freed);
    RETRY: the writeback failed, the item stays (rotated); STOP: stop the walk (a folio raced
    into the swap cache while the dynamic shrinker runs).
    """

    REMOVED_RETRY = 1
    ROTATE = 2
    RETRY = 3
    STOP = 5


#: ``list_lru_walk_cb``: called with the list and the head item; the list may change.
WalkCallback = Callable[[dict[int, None], int], LruStatus]


class ListLru:
    """``struct list_lru`` (one node): per-memcg lists of ids, head = coldest."""

    __slots__ = ("lists",)

    def __init__(self) -> None:
        #: list key (memcg id) -> {id: None} in LRU order.
        self.lists: dict[int, dict[int, None]] = {}

    def list_lru_add(self, key: int, item: int) -> None:
        """Models: ``list_lru_add()``: append ``item`` at the tail of ``key``'s list."""
        lru = self.lists.get(key)
        if lru is None:
            lru = self.lists[key] = {}
        lru[item] = None

    def list_lru_del(self, key: int, item: int) -> None:
        """Models: ``list_lru_del()``: ``item`` must be on ``key``'s list."""
        del self.lists[key][item]

    def list_lru_count_one(self, key: int) -> int:
        """Models: ``list_lru_count_one()``: items on ``key``'s list."""
        return len(self.lists.get(key, ()))

    def items(self, key: int) -> Iterator[int]:
        """The items of ``key``'s list, head (coldest) first."""
        return iter(self.lists.get(key, ()))

    def list_lru_walk_one(self, key: int, nr_to_walk: int, isolate: WalkCallback
                          ) -> tuple[int, int, bool]:
        """Models: ``list_lru_walk_one()``: walk from the head, calling ``isolate`` per item.

        Returns (items isolated, items walked, whether the callback said STOP).
        """
        lru = self.lists.get(key)
        isolated = walked = 0
        while lru and walked < nr_to_walk:
            item = next(iter(lru))
            walked += 1
            status = isolate(lru, item)
            if status is LruStatus.REMOVED_RETRY:
                isolated += 1
            elif status is LruStatus.STOP:
                return isolated, walked, True
        return isolated, walked, False

    def reparent(self, key: int, parent: int | None) -> list[int]:
        """Models: ``memcg_reparent_list_lrus()``: ``key``'s list goes to the tail of
        ``parent``'s (dropped when there is no parent); returns the items moved."""
        lru = self.lists.pop(key, None)
        if not lru or parent is None:
            return []
        dst = self.lists.setdefault(parent, {})
        for item in lru:
            dst[item] = None
        return list(lru)

    def check_invariants(self, items: set[int], key_col: Sequence[int]) -> None:
        """Raise AssertionError unless exactly ``items`` are on the lists, each on the list
        ``key_col`` names for it."""
        on_lru = [item for lru in self.lists.values() for item in lru]
        assert sorted(on_lru) == sorted(items), "LRU membership != tree membership"
        for key, lru in self.lists.items():
            for item in lru:
                assert key_col[item] == key, "entry on the wrong LRU"
