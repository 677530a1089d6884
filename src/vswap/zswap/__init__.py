"""zswap: compressors, the zsmalloc-like pool, the zswap tree, LRU, shrinker and writeback."""
