"""The cost table: virtual ns charged for each kernel step on the swap paths.

Models: nothing by itself; it is the single place every layer takes CPU costs from
(issue 6, item 2). One frozen :class:`CostTable`; each entry is an ``int`` of ns with a
``source`` in its field metadata: a published measurement, a kernel figure, an explicitly
labelled estimate, or "measured on the host by ``vswap calibrate``" when loaded with
:meth:`CostTable.from_calibration`.

The table runs use by default, :data:`DEFAULT_COSTS`, is this built-in table with the
entries ``vswap calibrate --host`` fitted to a real kernel doing the same work (Linux 6.18
on the development machine: :data:`DEFAULT_CALIBRATION_FILE`, docs/costs.md); every
result records which table it ran with. ``--costs builtin`` runs :data:`BUILTIN_COSTS`.

Rules, so that comparisons stay honest:

- **Constants are never tuned to make a design win.** No value here was fitted to the RFC's
  results; they were fixed before any design ran, and a change needs a new source. The
  calibration fits the host kernel's sys time on its own specs, never the RFC's ratios
  (those stay the out-of-sample check).
- Steps that do equivalent work in both designs share one value (``swap_slot_alloc`` and
  ``vswap_slot_alloc``, ``swap_cache_lookup`` and ``swap_desc_lookup``), so a difference
  between designs comes from *how many* steps each path takes and from lock contention,
  never from a guessed per-step constant.
- Estimates say so in their source, with the reasoning (instruction and cache-line counts).
  Their order of magnitude matters; their exact value should not change a design ranking,
  and ``vswap calibrate`` measures what can be measured honestly from Python.

Compression figures are from the lzbench 1.7.1 README table (Silesia corpus, one core of an
Intel Core i5-4300U), converted to ns per 4 KiB as ``4096 B / speed``. Silesia is text-like;
the RFC's usemem pages compress far better and faster, which is one reason to calibrate.
Costs scale linearly with size for other sizes (:meth:`CostTable.compress_ns`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError

__all__ = ["BUILTIN_COSTS", "COMPRESSORS", "DEFAULT_CALIBRATION_FILE", "DEFAULT_COSTS",
           "PAGE_SIZE", "CostTable"]

PAGE_SIZE = 4096

#: The kernel's crypto compressor names that zswap and zram accept, in the table's order.
COMPRESSORS = ("lzo", "lzo-rle", "lz4", "lz4hc", "zstd", "deflate")

_LZBENCH = ("lzbench 1.7.1 README (github.com/inikep/lzbench), Silesia, 1 core of an Intel "
            "Core i5-4300U")
_EST = "estimate"


def _per_page(mb_per_s: float) -> int:
    """ns to process one 4 KiB page at ``mb_per_s`` (10**6 bytes/s)."""
    return round(PAGE_SIZE * 1000 / mb_per_s)


def _c(ns: int, source: str) -> Any:
    return field(default=ns, metadata={"source": source})


@dataclass(frozen=True, slots=True)
class CostTable:
    """Cost in virtual ns of each kernel step (per call, or per 4 KiB page where named so).

    Use the attributes directly on hot paths (``costs.pte_update``); :meth:`source` says
    where a value comes from; :meth:`entries` lists all of them.
    """

    # -- fault and page-table work -------------------------------------------------------
    fault_entry_exit: int = _c(500, f"{_EST}: exception delivery and return (~100-200 "
        "cycles on x86, more with page-table isolation) plus handle_mm_fault dispatch "
        "down to do_swap_page; `vswap calibrate` measures a whole zero-fill fault for "
        "comparison")
    pte_update: int = _c(20, f"{_EST}: set_pte_at() and the PTE-lock critical section are a "
        "few stores to a line already in cache (~60 cycles at 3 GHz)")
    pte_walk_per_pte: int = _c(5, f"{_EST}: unuse_pte_range() tests each PTE of a page table "
        "streamed from memory, 8 PTEs per 64-byte line (~15 cycles per PTE)")
    rmap_walk: int = _c(250, f"{_EST}: rmap walk of a singly-mapped anon folio: anon_vma "
        "lock, interval-tree lookup, page_vma_mapped_walk (~a few cache misses)")
    tlb_flush_local: int = _c(150, f"{_EST}: INVLPG of one page costs on the order of 100+ "
        "cycles on recent x86 (Intel SDM does not publish a figure)")
    tlb_shootdown: int = _c(4_000, "several µs per remote shootdown IPI round trip, as "
        "reported by Amit, 'Optimizing the TLB Shootdown Algorithm with Page-Table Access "
        "Tracking', USENIX ATC 2017, and Kumar et al., 'LATR', ASPLOS 2018")

    # -- swap slots, descriptors, swap cache ----------------------------------------------
    swap_slot_alloc: int = _c(100, f"{_EST}: cluster allocator fast path (per-CPU cluster, "
        "scan of swap_map bytes, cluster lock taken uncontended) ~300 cycles")
    vswap_slot_alloc: int = _c(100, "equal to swap_slot_alloc by construction: the RFC's "
        "virtual-slot allocator does equivalent per-slot work; locking is modelled "
        "separately by the lock model")
    swap_map_update: int = _c(20, f"{_EST}: one swap_map byte / swap count update on a "
        "cached cluster line, under the cluster lock")
    swap_desc_lookup: int = _c(40, "equal to swap_cache_lookup by construction: the RFC "
        "finds a swp_desc with an XArray lookup too")
    swap_cache_lookup: int = _c(40, f"{_EST}: XArray lookup, 3-4 levels of 64-slot nodes, "
        "mostly cached (~4 dependent loads)")
    swap_cache_insert: int = _c(120, f"{_EST}: xas_store() of a folio into the swap cache "
        "with node allocation amortised, under the i_pages lock")
    swap_cache_delete: int = _c(100, f"{_EST}: xas_store(NULL) (or a shadow entry) plus "
        "counters, under the i_pages lock")
    vswap_slot_free: int = _c(100, "equal to vswap_slot_alloc by construction: "
        "release_vswap_slot is the allocator's work in reverse (XArray erase, cluster count) "
        "under the same vswap_map lock")
    vswap_partition_adopt: int = _c(100, "equal to vswap_slot_alloc by construction: the "
        "dynamic partitioner's global-lock section picks a free partition, an allocator-sized "
        "step")
    vswap_rmap_insert: int = _c(120, "equal to swap_cache_insert by construction: an "
        "xa_store into the vswap_rmap XArray under its lock")
    vswap_rmap_erase: int = _c(100, "equal to swap_cache_delete by construction: an "
        "xa_erase from the vswap_rmap XArray under its lock")
    zswap_tree_update: int = _c(100, "equal to swap_cache_delete by construction: an XArray "
        "store or erase in a zswap tree under its xa_lock")

    # -- page content work ----------------------------------------------------------------
    zero_check: int = _c(170, f"{_EST}: memchr_inv() over 4 KiB reads 512 8-byte words at "
        "~1 word per cycle at 3 GHz; `vswap calibrate` measures memcmp-to-zero")
    page_copy: int = _c(_per_page(8657), f"memcpy 8657 MB/s, {_LZBENCH}")
    compress_lzo: int = _c(_per_page(394), f"lzo1x 2.09 -1 compression 394 MB/s, {_LZBENCH}")
    decompress_lzo: int = _c(_per_page(551), f"lzo1x 2.09 -1 decompression 551 MB/s, "
        f"{_LZBENCH}")
    compress_lzo_rle: int = _c(_per_page(394), "lzo-rle is lzo1x-1 with run-length "
        f"encoding of zero runs; no separate figure in {_LZBENCH}: lzo1x -1's 394 MB/s")
    decompress_lzo_rle: int = _c(_per_page(551), f"as lzo: lzo1x -1 551 MB/s, {_LZBENCH}")
    compress_lz4: int = _c(_per_page(452), f"lz4 1.7.5 compression 452 MB/s, {_LZBENCH}")
    decompress_lz4: int = _c(_per_page(2244), f"lz4 1.7.5 decompression 2244 MB/s, "
        f"{_LZBENCH}")
    compress_lz4hc: int = _c(_per_page(23), "lz4hc 1.7.5 -9 (the kernel's "
        f"LZ4HC_DEFAULT_CLEVEL) compression 23 MB/s, {_LZBENCH}")
    decompress_lz4hc: int = _c(_per_page(2253), f"lz4hc 1.7.5 -9 decompression 2253 MB/s, "
        f"{_LZBENCH}")
    compress_zstd: int = _c(_per_page(185), "zstd 1.1.4 -2 compression 185 MB/s (the "
        "kernel's crypto zstd uses level 3, between the table's -2 and -5 (88 MB/s); -2 is "
        f"the nearer row), {_LZBENCH}")
    decompress_zstd: int = _c(_per_page(587), f"zstd 1.1.4 -2 decompression 587 MB/s, "
        f"{_LZBENCH}")
    compress_deflate: int = _c(_per_page(20), "zlib 1.2.11 -6 (crypto/deflate.c uses "
        f"Z_DEFAULT_COMPRESSION = 6) compression 20 MB/s, {_LZBENCH}")
    decompress_deflate: int = _c(_per_page(267), f"zlib 1.2.11 -6 decompression 267 MB/s, "
        f"{_LZBENCH}")
    # Compression of a page the compressor cannot shrink (its output is a page or more):
    # the compressor's own speed on such data differs from its speed on text (lzo1x-1 and
    # lz4 skip ahead faster and faster over input with no match, deflate does not), so the
    # table prices it apart; `vswap calibrate --host` fits it where the host has the
    # algorithm (docs/costs.md). Until measured, each equals its algorithm's figure.
    compress_poor_lzo: int = _c(_per_page(394), "equal to compress_lzo by construction "
        f"(no figure for incompressible input in {_LZBENCH})")
    compress_poor_lzo_rle: int = _c(_per_page(394), "equal to compress_lzo_rle by "
        f"construction (no figure for incompressible input in {_LZBENCH})")
    compress_poor_lz4: int = _c(_per_page(452), "equal to compress_lz4 by construction "
        f"(no figure for incompressible input in {_LZBENCH})")
    compress_poor_lz4hc: int = _c(_per_page(23), "equal to compress_lz4hc by construction "
        f"(no figure for incompressible input in {_LZBENCH})")
    compress_poor_zstd: int = _c(_per_page(185), "equal to compress_zstd by construction "
        f"(no figure for incompressible input in {_LZBENCH})")
    compress_poor_deflate: int = _c(_per_page(20), "equal to compress_deflate by "
        f"construction (no figure for incompressible input in {_LZBENCH})")
    zsmalloc_alloc: int = _c(150, f"{_EST}: zs_malloc() fast path: size-class lookup, "
        "free-object pop under the class lock, handle allocation")
    zsmalloc_free: int = _c(100, f"{_EST}: zs_free(): handle lookup, object push under the "
        "class lock, fullness-group update")

    # -- memcg and LRU --------------------------------------------------------------------
    memcg_charge: int = _c(60, f"{_EST}: per-CPU stock hit in try_charge (consume_stock), "
        "page_counter atomics amortised over the stock batch (MEMCG_CHARGE_BATCH = 64)")
    memcg_uncharge: int = _c(60, f"{_EST}: symmetric to memcg_charge (refill_stock)")
    lru_add: int = _c(50, f"{_EST}: folio_add_lru() batches 15 folios (folio_batch) per "
        "lru_lock acquisition; per-folio share of the batch work")
    lru_move: int = _c(100, f"{_EST}: isolate or move a folio between LRU lists under "
        "lru_lock (list unlink + link, flag updates)")

    # -- block layer and scheduling ---------------------------------------------------------
    # A request is what the driver sees: the bios a plug merged (blk_start_plug around
    # readahead and shrink_lruvec), or one bio submitted unplugged. io_submit and
    # io_complete are per request, io_bio per bio (one per folio read or written).
    io_submit: int = _c(2_000, f"{_EST}: a request's dispatch through blk-mq to the "
        "driver's doorbell, order of µs per I/O (Bjørling et al., 'Linux Block IO: "
        "Introducing Multi-queue SSD Access on Multi-core Systems', SYSTOR 2013, report "
        "per-I/O block-layer overheads of this order)")
    io_complete: int = _c(1_500, f"{_EST}: a request's interrupt and "
        "blk_mq_complete_request, order of µs (as io_submit)")
    io_bio: int = _c(500, f"{_EST}: one folio's bio: bio_alloc, bio_add_folio, submit_bio's "
        "checks and plug merge, and at completion bio_endio with the swap end_io callback "
        "(a fraction of a request's cost: no doorbell, no interrupt)")
    io_submit_sync: int = _c(300, f"{_EST}: bio-based synchronous drivers (zram, pmem) skip "
        "blk-mq queueing: bio setup and the driver call only")
    # Charged when a task sleeps on a read it submitted (io_schedule until the completion
    # wakes it): the switch out and back in.
    context_switch: int = _c(1_500, f"{_EST}: direct cost of a switch between processes is "
        "of the order of 1-2 µs (Li, Ding, Shen, 'Quantifying the Cost of Context Switch', "
        "ExpCS 2007)")
    spin_lock_uncontended: int = _c(20, f"{_EST}: one atomic cmpxchg on a locally cached "
        "line (~20 cycles; David, Guerraoui, Trigonakis, 'Everything You Always Wanted to "
        "Know About Synchronization but Were Afraid to Ask', SOSP 2013)")
    spin_handoff: int = _c(100, "cache-line transfer of a lock between cores, tens to "
        "~100+ ns on multi-socket x86 (David, Guerraoui, Trigonakis, SOSP 2013)")

    # -- provenance (not costs) --------------------------------------------------------------
    calibrated: frozenset[str] = field(default=frozenset(), metadata={"source": None})
    calibration_file: str = field(default="", metadata={"source": None})

    # -- lookups -------------------------------------------------------------------------------

    @classmethod
    def cost_names(cls) -> tuple[str, ...]:
        """Names of every cost entry, in table order."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("source"))

    def source(self, name: str) -> str:
        """Where entry ``name`` comes from.

        Raises:
            KeyError: no such entry.
        """
        for f in dataclasses.fields(self):
            if f.name == name and f.metadata.get("source"):
                if name in self.calibrated:
                    return f"measured on the host by `vswap calibrate` ({self.calibration_file})"
                return str(f.metadata["source"])
        raise KeyError(f"no cost entry {name!r}")

    def entries(self) -> Iterator[tuple[str, int, str]]:
        """``(name, ns, source)`` of every entry, in table order."""
        for name in self.cost_names():
            yield name, getattr(self, name), self.source(name)

    @staticmethod
    def _algo_field(algo: str) -> str:
        if algo not in COMPRESSORS:
            raise ConfigError(f"unknown compressor {algo!r} (valid: {', '.join(COMPRESSORS)})")
        return algo.replace("-", "_")

    def compress_ns(self, algo: str, nbytes: int = PAGE_SIZE, *, poor: bool = False) -> int:
        """Cost of compressing ``nbytes`` with ``algo`` (linear in size); ``poor``: input
        the compressor could not shrink (``compress_poor_<algo>``).

        Raises:
            ConfigError: unknown algorithm (the message lists the valid ones).
        """
        per_page: int = getattr(self, ("compress_poor_" if poor else "compress_")
                                + self._algo_field(algo))
        return per_page if nbytes == PAGE_SIZE else -(-per_page * nbytes // PAGE_SIZE)

    def decompress_ns(self, algo: str, nbytes: int = PAGE_SIZE) -> int:
        """Cost of decompressing to ``nbytes`` with ``algo`` (linear in size).

        Raises:
            ConfigError: unknown algorithm.
        """
        per_page: int = getattr(self, "decompress_" + self._algo_field(algo))
        return per_page if nbytes == PAGE_SIZE else -(-per_page * nbytes // PAGE_SIZE)

    def io_submit_ns(self, synchronous: bool) -> int:
        """Submitter-side CPU cost of one request: bio-based synchronous drivers (zram,
        pmem), where a bio is its own request, or blk-mq (each bio adds ``io_bio``)."""
        return self.io_submit_sync if synchronous else self.io_submit

    def io_complete_ns(self, synchronous: bool) -> int:
        """Completion-side CPU cost of one request (none beyond submit for synchronous
        drivers, whose completion runs inside the submit call)."""
        return 0 if synchronous else self.io_complete

    # -- calibration -------------------------------------------------------------------------------

    def with_overrides(self, overrides: dict[str, int], *, note: str) -> CostTable:
        """A copy with some entries replaced by host measurements.

        Raises:
            ConfigError: an unknown entry or a non-positive value.
        """
        names = set(self.cost_names())
        clean: dict[str, int] = {}
        for name, value in overrides.items():
            if name not in names:
                raise ConfigError(f"calibration: unknown cost entry {name!r}")
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"calibration: {name} must be a positive number of ns, "
                                  f"not {value!r}")
            clean[name] = max(1, round(value))
        return dataclasses.replace(self, **clean,
                                   calibrated=self.calibrated | frozenset(clean),
                                   calibration_file=note)

    @classmethod
    def from_calibration(cls, path: str | Path, base: CostTable | None = None) -> CostTable:
        """The built-in table (or ``base``) with the ``overrides`` of a ``vswap calibrate
        --json`` file applied; their source then reads "measured on the host".

        Raises:
            ConfigError: the file is not a calibration JSON or holds bad values.
            FileNotFoundError: no such file.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or not isinstance(data.get("overrides"), dict):
            raise ConfigError(f"{path}: not a `vswap calibrate --json` file "
                              "(no 'overrides' object)")
        host = data.get("host", {}).get("node", "?") if isinstance(data.get("host"), dict) \
            else "?"
        return (base or BUILTIN_COSTS).with_overrides(data["overrides"],
                                                      note=f"{path.name}, host {host}")


#: The built-in table: published figures and labelled estimates, calibrated on no kernel
#: (the base ``vswap calibrate --host`` scales, and the rest of any cost file).
BUILTIN_COSTS = CostTable()

#: The cost file calibrated on a kernel that runs use by default (issue 11: "make the
#: calibrated table the default when it has been measured on a kernel"): fitted by
#: ``vswap calibrate --host`` to Linux 6.18 on the development machine (docs/costs.md).
#: ``vswap.config.costs.default_costs`` loads it with its provenance, checked.
DEFAULT_CALIBRATION_FILE = Path(__file__).resolve().parent / "calibrated" / \
    "linux-6.18-epyc-vm.json"


def _shipped_calibration() -> CostTable:
    """The built-in table with the entries of :data:`DEFAULT_CALIBRATION_FILE` (the
    built-in table itself when the file is absent, as in a tree without it)."""
    try:
        data = json.loads(DEFAULT_CALIBRATION_FILE.read_text())
    except FileNotFoundError:  # pragma: no cover - the file ships with vswap
        return BUILTIN_COSTS
    prov = data.get("provenance", {})
    return BUILTIN_COSTS.with_overrides(
        data["costs"], note=f"{DEFAULT_CALIBRATION_FILE.name}: calibrated on kernel "
                            f"{prov.get('kernel')} ({prov.get('host')}, {prov.get('date')})")


#: The table every run uses unless told otherwise (``--costs FILE``; ``--costs builtin``
#: for :data:`BUILTIN_COSTS`).
DEFAULT_COSTS = _shipped_calibration()
