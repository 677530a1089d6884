"""The memory-manager model: folios, address spaces, page tables, LRU, memcg, reclaim, faults."""
