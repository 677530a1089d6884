"""zswap's pools (vswap.zswap.pool): one per compressor, old ones destroyed when empty."""

from __future__ import annotations

import pytest

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.zswap.pool import ZswapPools


def test_compressor_switch_keeps_old_pool_until_its_last_object() -> None:
    pools = ZswapPools("lz4", None)
    assert pools.cur == 0 and pools.get(0)[0].name == "lz4"
    h = pools.get(0)[1].zs_malloc(1000)
    pools.nr[0] += 1
    pools.cur = pools.zswap_pool_find_create("zstd")
    assert pools.cur == 1 and pools.zswap_pool_find_create("lz4") == 0
    assert pools.zswap_total_pages() == 1 and len(pools.live()) == 2
    pools.check_invariants([0])
    pools.obj_free(0, h)
    assert pools.pools[0] is None and [p.name for p in pools.live()] == ["zswap2"]
    # A destroyed pool's id is not reused.
    assert pools.zswap_pool_find_create("lz4") == 2
    pools.check_invariants([])


def test_current_pool_survives_emptying_and_bad_names_are_refused() -> None:
    pools = ZswapPools("lzo", 4)
    h = pools.get(0)[1].zs_malloc(PAGE_SIZE)
    pools.nr[0] += 1
    pools.obj_free(0, h)
    assert pools.pools[0] is not None and pools.zswap_total_pages() == 0
    with pytest.raises(ConfigError):
        pools.zswap_pool_find_create("nope")
