"""``--reclaim lru|fifo|clock``: the machine's major faults are the textbook policies' misses
(minus first touches) on every design, with a file device (swap cache, readahead off) and a
memory device (the skip-swapcache path); and the policy is refused when it cannot apply."""

from __future__ import annotations

import random
from collections import OrderedDict
from pathlib import Path

import pytest

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import Machine
from vswap.swap import DESIGNS
from vswap.swap.storage import FileSwapStorage, MemSwapStorage
from vswap.swap.swap_area import mkswap


def reference_misses(policy: str, seq: list[int], capacity: int) -> int:
    """LRU, FIFO and CLOCK (1 bit, new pages unreferenced) as libCacheSim defines them."""
    cache: OrderedDict[int, bool] = OrderedDict()
    misses = 0
    for p in seq:
        if p in cache:
            if policy == "lru":
                cache.move_to_end(p)
            elif policy == "clock":
                cache[p] = True
            continue
        misses += 1
        while len(cache) >= capacity:
            victim, ref = next(iter(cache.items()))
            if policy == "clock" and ref:
                cache[victim] = False
                cache.move_to_end(victim)
                continue
            del cache[victim]
        cache[p] = False
    return misses


def _sequence(seed: int, n: int = 1500, pages: int = 90) -> list[tuple[int, bool]]:
    rng = random.Random(seed)
    hot = list(range(pages // 5))
    return [((rng.choice(hot) if rng.random() < 0.6 else rng.randrange(pages)),
             rng.random() < 0.3) for _ in range(n)]


def _replay(m: Machine, seq: list[tuple[int, bool]], capacity: int) -> int:
    m.create_cgroup("/t")
    m.cgroup_write("/t", "memory.max", str(capacity * PAGE_SIZE))
    task = m.spawn("t", "/t")
    addr = m.mmap(task, 128 * PAGE_SIZE)
    seen: set[int] = set()
    for page, write in seq:
        a = addr + page * PAGE_SIZE
        if page not in seen:
            seen.add(page)
            m.write(task, a, page.to_bytes(8, "little") * 512)
        else:
            m.touch(task, a, write)
    m.check_invariants()
    m.exit(task)
    return int(m.vmstat["pgmajfault"]) + len(seen)


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("policy", ["lru", "fifo", "clock"])
def test_major_faults_are_the_policy_misses_on_a_memory_device(design: str,
                                                                 policy: str) -> None:
    seq = _sequence(DESIGNS.index(design) * 3 + ["lru", "fifo", "clock"].index(policy))
    for capacity in (12, 40):
        m = Machine(ram=64 << 20, design=design)
        m.set_reclaim_policy(policy)
        m.swapon(MemSwapStorage(4 << 20))
        got = _replay(m, seq, capacity)
        assert got == reference_misses(policy, [p for p, _ in seq], capacity)


@pytest.mark.parametrize("policy", ["lru", "fifo", "clock"])
def test_major_faults_are_the_policy_misses_through_the_swap_cache(policy: str,
                                                                    tmp_path: Path) -> None:
    seq = _sequence(7)
    path = tmp_path / "swapfile"
    mkswap(path, 4 << 20)
    m = Machine(ram=64 << 20, design="classic", skip_swapcache=False)
    m.set_reclaim_policy(policy)
    assert m.page_cluster == 0  # no readahead: a major fault reads only its page
    storage = FileSwapStorage.open(path)
    try:
        m.swapon(storage)
        got = _replay(m, seq, 25)
    finally:
        storage.close()
    assert got == reference_misses(policy, [p for p, _ in seq], 25)


def test_the_kernel_policy_differs_and_bad_policies_are_refused() -> None:
    seq = _sequence(3)
    m = Machine(ram=64 << 20)
    assert m.exact_reclaim is None  # linux by default
    m.swapon(MemSwapStorage(4 << 20))
    linux = _replay(m, seq, 25)
    assert linux != reference_misses("lru", [p for p, _ in seq], 25)
    with pytest.raises(ConfigError, match="one of linux, lru, fifo, clock"):
        Machine(ram=64 << 20).set_reclaim_policy("arc")
    m = Machine(ram=64 << 20)
    m.swapon(MemSwapStorage(4 << 20))
    t = m.spawn("t")
    m.touch(t, m.mmap(t, PAGE_SIZE), True)
    with pytest.raises(ConfigError, match="before any page is allocated"):
        m.set_reclaim_policy("lru")
