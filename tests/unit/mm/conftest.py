"""Shared helpers for the memory-manager scenarios: small machines, page patterns."""

from __future__ import annotations

import pytest

from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import Machine, MachineConfig
from vswap.swap import DESIGNS
from vswap.swap.storage import MemSwapStorage

MiB = 1 << 20


def pattern(tag: int, i: int) -> bytes:
    """A page whose every 8-byte word holds ``tag << 32 | i`` (every third page zero)."""
    if i % 3 == 0:
        return bytes(PAGE_SIZE)
    return ((tag << 32) | i).to_bytes(8, "little") * (PAGE_SIZE // 8)


def make_machine(design: str, *, ram: int = 32 * MiB, device: int | None = 16 * MiB,
                 zswap: bool = False, **kw: object) -> Machine:
    m = Machine(MachineConfig(ram=ram, design=design, zswap=zswap,
                              zswap_params={"compressor": "lz4"} if zswap else {}, **kw))
    if device:
        m.swapon(MemSwapStorage(device))
    return m


def fill(m: Machine, task, addr: int, n: int, tag: int = 1) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        m.write(task, addr + i * PAGE_SIZE, pattern(tag, i))


def check(m: Machine, task, addr: int, n: int, tag: int = 1) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        got = m.read(task, addr + i * PAGE_SIZE, PAGE_SIZE)
        assert got == pattern(tag, i), f"page {i} differs"


@pytest.fixture(params=DESIGNS)
def design(request: pytest.FixtureRequest) -> str:
    return str(request.param)
