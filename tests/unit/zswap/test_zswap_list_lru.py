"""The memcg-aware list_lru (vswap.zswap.list_lru): order, walk statuses, reparenting."""

from __future__ import annotations

import pytest

from vswap.zswap.list_lru import ListLru, LruStatus


def test_add_del_count_keep_insertion_order_per_key() -> None:
    lru = ListLru()
    for item in (3, 1, 2):
        lru.list_lru_add(7, item)
    lru.list_lru_add(8, 9)
    assert list(lru.items(7)) == [3, 1, 2] and lru.list_lru_count_one(8) == 1
    lru.list_lru_del(7, 1)
    assert list(lru.items(7)) == [3, 2] and lru.list_lru_count_one(99) == 0
    with pytest.raises(KeyError):
        lru.list_lru_del(7, 1)


def test_walk_counts_isolated_items_and_stops_when_told() -> None:
    lru = ListLru()
    for item in range(1, 7):
        lru.list_lru_add(1, item)
    seen: list[int] = []

    def isolate(lst: dict[int, None], item: int) -> LruStatus:
        seen.append(item)
        if item % 2:  # odd: rotate to the tail (second chance)
            del lst[item]
            lst[item] = None
            return LruStatus.ROTATE
        del lst[item]
        return LruStatus.STOP if item == 4 else LruStatus.REMOVED_RETRY

    assert lru.list_lru_walk_one(1, 3, isolate) == (1, 3, False)
    assert seen == [1, 2, 3] and list(lru.items(1)) == [4, 5, 6, 1, 3]
    assert lru.list_lru_walk_one(1, 10, isolate) == (0, 1, True)
    assert list(lru.items(1)) == [5, 6, 1, 3]
    assert lru.list_lru_walk_one(2, 10, isolate) == (0, 0, False)


def test_reparent_appends_to_the_parent_or_drops_without_one() -> None:
    lru = ListLru()
    lru.list_lru_add(1, 10)
    lru.list_lru_add(2, 20)
    lru.list_lru_add(2, 21)
    assert lru.reparent(2, 1) == [20, 21]
    assert list(lru.items(1)) == [10, 20, 21] and lru.list_lru_count_one(2) == 0
    assert lru.reparent(1, None) == [] and lru.list_lru_count_one(1) == 0
    lru.check_invariants(set(), [])
