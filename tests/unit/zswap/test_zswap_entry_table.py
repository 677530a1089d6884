"""The zswap_entry table (vswap.zswap.entry_table): ids, columns, reuse."""

from __future__ import annotations

from vswap.zswap.entry_table import ZswapEntryTable


def test_alloc_fills_every_column_and_ids_start_at_one() -> None:
    t = ZswapEntryTable()
    a = t.alloc(0x1234, 700, 9, 2, 5, 5, 3, 0xDEADBEEF)
    b = t.alloc(0x1235, 4096, 10, 0, 0, 1, 0, 1)
    assert (a, b) == (1, 2)
    assert (t.swpentry[a], t.length[a], t.handle[a], t.pool[a], t.memcg[a], t.lru[a],
            t.tree[a], t.crc[a], t.referenced[a]) == (0x1234, 700, 9, 2, 5, 5, 3, 0xDEADBEEF, 1)
    assert t.length[b] == 4096 and t.lru[b] == 1


def test_freed_ids_are_reused_last_in_first_out_and_refilled() -> None:
    t = ZswapEntryTable()
    ids = [t.alloc(i, 100, i, 0, 0, 1, 0, 0) for i in range(1, 5)]
    t.referenced[ids[1]] = 0
    t.free(ids[1])
    t.free(ids[3])
    assert t.alloc(77, 200, 8, 1, 2, 2, 4, 6) == ids[3]
    again = t.alloc(78, 300, 9, 1, 2, 2, 4, 6)
    assert again == ids[1]
    # A reused row is wholly rewritten: referenced again, new entry and length.
    assert (t.swpentry[again], t.length[again], t.referenced[again]) == (78, 300, 1)
    assert t.alloc(79, 1, 1, 0, 0, 1, 0, 0) == 5 and len(t.swpentry) == 6
