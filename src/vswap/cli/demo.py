"""``vswap demo``: swap real pages through every design on a real swap file, side by side.

Makes a swap area with ``mkswap`` in a temporary directory (or uses ``--swapfile``), swaps it
on under each registered design, pushes a mix of pages out (usemem-pattern, random, zero),
reads every page back and checks it, then prints ``/proc/swaps``, the counters and the swap
metadata each design spends.
"""

from __future__ import annotations

import argparse
import random
import struct
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vswap.cli._runopts import designs_from
from vswap.errors import ConfigError
from vswap.kernel.errors import DataLossError
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.sim.costs import COMPRESSORS
from vswap.swap import DESIGNS, create_design
from vswap.swap.storage import FileSwapStorage
from vswap.swap.swap_area import check_swap_area_size, mkswap
from vswap.units import SEED_RANGE, bounded_int, format_size, parse_size, seed_arg
from vswap.zswap.zswap import ZswapParams

#: The range of ``--pages``: every page is held in memory twice while it is checked.
PAGES_RANGE = (1, 1 << 16)
#: The largest ``--swap-size`` (the file is sparse, but it is made once per design).
MAX_SWAP_SIZE = 64 << 30


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="swap real pages through each design on a real swap file")
    p.add_argument("--pages", type=bounded_int(*PAGES_RANGE), default=2000,
                   help=f"pages to swap out, {PAGES_RANGE[0]}..{PAGES_RANGE[1]}, at most the "
                        "swap file's pages after its header (default 2000)")
    p.add_argument("--swap-size", default="64M",
                   help=f"swap file size, 40K..{format_size(MAX_SWAP_SIZE)} (default 64M)")
    p.add_argument("--design", default=",".join(DESIGNS),
                   help=f"comma list of designs (default {','.join(DESIGNS)})")
    p.add_argument("--seed", type=seed_arg, default=1,
                   help=f"random seed, {SEED_RANGE[0]}..{SEED_RANGE[1]} (default 1)")
    p.add_argument("--zswap", default="lz4",
                   help="zswap compressor (lzo, lz4, lz4hc, zstd, deflate) or 'off' "
                        "(default lz4)")
    p.set_defaults(func=run)


def _page(kind: int, i: int, rng: random.Random) -> bytes:
    if kind == 0:  # usemem: every 8-byte word holds its index
        return struct.pack("<512Q", *range(i * 512, i * 512 + 512))
    if kind == 1:
        return rng.randbytes(PAGE_SIZE)
    return bytes(PAGE_SIZE)


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.swap_size, what="--swap-size")
    if size > MAX_SWAP_SIZE:
        raise ConfigError(f"--swap-size: {args.swap_size} is more than "
                          f"{format_size(MAX_SWAP_SIZE)}")
    last_page = check_swap_area_size(size)  # KernelError naming the rule it breaks
    if args.pages > last_page:
        raise ConfigError(f"--pages {args.pages}: a {args.swap_size} swap file holds "
                          f"{last_page} pages after its header")
    designs = designs_from(args.design)
    if args.zswap != "off" and args.zswap not in COMPRESSORS:
        raise ConfigError(f"--zswap: unknown compressor {args.zswap!r} "
                          f"(known: {', '.join(COMPRESSORS)}, or off)")
    console = Console()
    rows: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="vswap-demo-") as tmp:
        for name in designs:
            design = create_design(name)
            path = Path(tmp) / f"swapfile-{name}"
            mkswap(path, size, label=f"vswap-{name}"[:16])
            storage = FileSwapStorage.open(path)
            design.swapon(storage)
            if args.zswap != "off":
                # 1 GiB of RAM: the pool limit (max_pool_percent=20) is far above the demo.
                design.attach_zswap(total_ram_pages=1 << 18,
                                    params=ZswapParams(compressor=args.zswap))
            rng = random.Random(args.seed)
            pages = [_page(i % 3, i, rng) for i in range(args.pages)]
            entries: list[SwpEntry] = []
            for data in pages:
                folio = Folio(0, data)
                folio.folio_lock()
                if not design.add_to_swap(folio):
                    raise ConfigError(f"--swap-size {args.swap_size} too small for "
                                      f"{args.pages} pages")
                entry = folio.swap
                design.swap_duplicate(entry)
                folio.dirty = False
                design.swap_writepage(folio)
                folio.folio_lock()
                design.swap_cache._delete_from_swap_cache(folio, entry, None)
                design.put_swap_folio(folio, entry)
                folio.folio_unlock()
                entries.append(entry)
            swaps = design.devices.proc_swaps()
            used_peak = sum(si.inuse_pages for si in design.devices.devices())
            meta = design.metadata_bytes()
            for entry, data in zip(entries, pages):
                swapin, new = design.read_swap_cache_async(entry)
                assert swapin is not None and new
                design.swap_read_folio(swapin)
                if bytes(swapin.data) != data:
                    raise DataLossError(f"{name}: entry {entry:#x} read back wrong bytes")
                swapin.folio_unlock()
                design.swap_free_nr(entry, 1)
                swapin.folio_lock()
                design.folio_free_swap(swapin)
                swapin.folio_unlock()
            design.check_invariants()
            result = design.swapoff(storage.name)
            storage.close()
            print(f"{name}: /proc/swaps with {args.pages} pages out")
            print(swaps.replace(tmp, "$TMP"))
            v = design.vmstat
            rows[name] = {
                "pages verified": f"{len(pages)}",
                "disk slots used (peak)": f"{used_peak}",
                "pswpout": f"{v['pswpout']}", "pswpin": f"{v['pswpin']}",
                "zswpout": f"{v['zswpout']}", "zswpin": f"{v['zswpin']}",
                "swpout_zero": f"{v['swpout_zero']}", "swpin_zero": f"{v['swpin_zero']}",
                "swap metadata (bytes)": f"{sum(meta.values()):,}",
                "swapoff completed": str(result.completed),
            }
    table = Table(title=f"{args.pages} pages (1/3 usemem, 1/3 random, 1/3 zero), zswap "
                        f"{args.zswap}, seed {args.seed}")
    table.add_column("")
    for name in rows:
        table.add_column(name, justify="right")
    for key in next(iter(rows.values())):
        table.add_row(key, *[rows[n][key] for n in rows])
    console.print(table)
    return 0
