"""Incompressible pages, per kernel: v6.14's zswap (the classic design and RFC v2, whose base
is v6.14) rejects a page that does not compress below PAGE_SIZE (``reject_compress_poor``) and
the page is written to the swap device; from v6.18 (commit dca4437a5861, designs of later
kernels such as vswap-v6) it is stored as-is (``stored_incompressible_pages``)."""

from __future__ import annotations

import pytest

from vswap.kernel.tracing import KernelTracer
from vswap.kernel.types import PAGE_SIZE
from vswap.run.context import DeviceSpec, RunConfig, run_workload
from vswap.swap import design_class
from vswap.zswap.zswap import Zswap


def test_v614_zswap_rejects_what_does_not_compress(helpers) -> None:  # type: ignore[no-untyped-def]
    m = helpers.Machine("classic")
    m.zswap = Zswap(m.host, total_ram_pages=1 << 18, env=m.env,
                    store_incompressible=False)
    cg = m.memcgs.create("/a")
    ok, _ = m.swapout(helpers.random_page(3), cg)
    st = m.zswap.statistics()
    assert not ok and st.reject_compress_poor == 1 and st.stored_pages == 0
    assert st.stored_incompressible_pages == 0 and cg.zswap.usage == 0
    ok, _ = m.swapout(helpers.usemem_page(512), cg)
    assert ok and m.zswap.statistics().stored_pages == 1, "compressible pages still go in"


def test_the_designs_declare_their_kernels_behaviour() -> None:
    assert not design_class("classic").zswap_stores_incompressible
    for name in ("vswap", "vswap-static", "vswap-dynamic"):
        assert not design_class(name).zswap_stores_incompressible, name
    assert design_class("vswap-v6").zswap_stores_incompressible


def _random_pages(design: str):  # type: ignore[no-untyped-def]
    return run_workload(RunConfig(
        design=design, workload="pattern --size 2M --content random", memory_max=1 << 20,
        swap_devices=[DeviceSpec("file", 16 << 20, "nvme")], zswap="lz4",
        zswap_params={"shrinker_enabled": True}, cpus=2))


@pytest.mark.parametrize("design", ["classic", "vswap"])
def test_v614_designs_write_incompressible_pages_to_the_device(design: str) -> None:
    r = _random_pages(design)
    zs = r.kernel_stats["zswap"]
    assert zs["reject_compress_poor"] > 0 and zs["stored_incompressible_pages"] == 0
    assert r.vmstat["pswpout"] == zs["reject_compress_poor"] == 512, "every page, to disk"
    assert r.vmstat["zswpout"] == 0 and r.data_loss == 0 and r.verified_pages >= 512


def test_later_designs_store_incompressible_pages_as_is() -> None:
    r = _random_pages("vswap-v6")
    zs = r.kernel_stats["zswap"]
    assert zs["reject_compress_poor"] == 0 and r.vmstat["zswpout"] == 512
    # Raw pages are charged at full size, so the shrinker writes them back to make room.
    assert zs["peak_stored_pages"] > 0 and zs["written_back_pages"] == r.vmstat["zswpwb"] > 0
    assert r.data_loss == 0 and r.verified_pages >= 512


class _Steps(KernelTracer):
    def __init__(self) -> None:
        self.steps: list[str] = []

    def page_copy(self, nr: int) -> None:
        self.steps.append("page_copy")

    def decompress(self, algo: str, nbytes: int) -> None:
        self.steps.append("decompress")


def test_a_raw_entry_is_copied_back_not_decompressed(helpers) -> None:  # type: ignore[no-untyped-def]
    """6.18's zswap_decompress() copies an entry of length PAGE_SIZE (commit dca4437a5861):
    a load of a raw page costs a page copy; a compressed one a decompression."""
    m = helpers.Machine("classic")
    steps = _Steps()
    m.env.tracer = steps
    _, raw = m.swapout(helpers.random_page(5))
    _, packed = m.swapout(helpers.usemem_page(64))
    assert m.zswap.lookup(raw).length == PAGE_SIZE
    m.swapin(raw)
    m.swapin(packed)
    assert steps.steps == ["page_copy", "decompress"]


class _Compressions(KernelTracer):
    def __init__(self) -> None:
        self.poor: list[bool] = []

    def compress(self, algo: str, nbytes: int, poor: bool = False) -> None:
        self.poor.append(poor)


def test_a_page_the_compressor_cannot_shrink_is_priced_apart(helpers) -> None:  # type: ignore[no-untyped-def]
    """lzo gives up on random data faster than it compresses text: the store says whether
    the output was a page or more (CostTable.compress_poor_*), on v6.14 (rejected) and on
    the designs that store such a page as it is."""
    for design in ("classic", "swap-table-p1"):
        m = helpers.Machine(design)
        seen = _Compressions()
        m.env.tracer = seen
        m.swapout(helpers.random_page(5))
        m.swapout(helpers.usemem_page(64))
        assert seen.poor == [True, False], design
