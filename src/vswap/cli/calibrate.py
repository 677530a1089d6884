"""``vswap calibrate``: measure on this host the costs Python can measure honestly.

Measured, in ns per 4 KiB page:

- compression and decompression with each available library: lz4 (``lz4.block``, and its
  high-compression mode at level 9 for lz4hc), zstd (``zstandard``, level 3 as the
  kernel's crypto zstd), deflate (``zlib``, raw deflate at level 6 with 2**11 windows as
  crypto/deflate.c), lzo (``lzallright``, a port of lzokay); lzo-rle has no Python binding
  and is not measured. lzokay's compressor searches like LZO1X-999, much harder than the
  kernel's LZO1X-1, so its compression time is shown but never applied; its decompression
  (same format) is;
- each on two pages: a usemem page (every 8-byte word holds its index, as vm-scalability's
  usemem fills memory) and a random page (incompressible);
- a 4 KiB compare against a zero page (the zero-page check's worst case: the whole page is
  read) and a 4 KiB page copy, both with libc ``memcmp``/``memmove`` through ctypes over a
  64 MiB buffer walked page by page, so the data comes from memory as in reclaim, not from
  a hot L1; the ctypes call overhead, measured on 8-byte operands, is subtracted;
- for reference only, a whole anonymous zero-fill page fault (mmap + first touch).

The numbers include the Python binding's call overhead (~100 ns), which the kernel's crypto
API call does not have; they are upper bounds for a kernel on the same CPU. ``--json``
writes a file that ``CostTable.from_calibration`` can load; its ``overrides`` hold the
usemem-page figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import mmap
import platform
import random
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError
from vswap.kernel.errors import DataLossError
from vswap.sim.costs import BUILTIN_COSTS, DEFAULT_COSTS, PAGE_SIZE

__all__ = ["calibrate", "register"]


def register(subparsers: Any) -> None:
    """Add the ``calibrate`` subcommand."""
    p = subparsers.add_parser(
        "calibrate", help="measure compression, zero-check and copy costs on this host",
        description="Measure per-4 KiB-page costs on this host and print them beside the "
                    "cost table's defaults.")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON "
                   "(loadable by CostTable.from_calibration)")
    p.add_argument("--iterations", type=int, default=2000, metavar="N",
                   help="operations per timing sample (default 2000)")
    p.add_argument("--repeats", type=int, default=5, metavar="R",
                   help="timing samples; the median is reported (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random page")
    h = p.add_argument_group("calibration against this host's kernel (--host, root)")
    h.add_argument("--host", action="store_true",
                   help="fit the cost table to host runs on this machine's kernel (root; "
                        "docs/costs.md); --json then writes a vswap-costs file")
    h.add_argument("--size", default="256M", help="data size of each host run (default "
                                                  "256M; the limit is half of it)")
    h.add_argument("--runs", type=int, default=3, metavar="N",
                   help="host runs per spec; the median sys time is fitted (default 3)")
    h.add_argument("--model-scale", default="1/4", metavar="S",
                   help="the model runs each spec at this fraction of --size (default 1/4)")
    h.add_argument("--specs", default=None, metavar="A,B",
                   help="only these calibration specs (default: all; see docs/costs.md)")
    h.add_argument("--from-samples", action="append", default=None, metavar="FILE",
                   help="refit the samples a previous --host --json file kept (no runs, "
                        "no root); repeat to pool several files (a later file's sample of "
                        "a spec replaces an earlier one's; the first file's kernel and "
                        "host must match the others')")
    h.add_argument("--remodel", action="store_true",
                   help="with --from-samples: run the model side of every sample again "
                        "(at --model-scale) and keep the host's measurements, so a model "
                        "change is re-fitted without host runs")
    h.add_argument("--no-model", action="store_true",
                   help="with --host: host runs only; --json keeps the samples for "
                        "--from-samples FILE --remodel")
    h.add_argument("--design", default=None, metavar="NAME",
                   help="the model design of the fit's model side (default swap-table-p1, "
                        "the model of what 6.18 runs)")
    h.add_argument("--cpus", default=None, metavar="LIST",
                   help="with --host: the CPU set the host runs use (default: every CPU "
                        "this process may use)")
    p.set_defaults(func=_main)


def usemem_page(index: int = 1) -> bytes:
    """Page ``index`` of a usemem buffer: each 8-byte word holds its word index."""
    base = index * (PAGE_SIZE // 8)
    return b"".join((base + i).to_bytes(8, "little") for i in range(PAGE_SIZE // 8))


def random_page(seed: int) -> bytes:
    """An incompressible page from a seeded generator."""
    return random.Random(seed).randbytes(PAGE_SIZE)


def _time_ns(fn: Callable[[], Any], iterations: int, repeats: int) -> float:
    """Median over ``repeats`` samples of the mean ns per call of ``fn``."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        for _ in range(iterations):
            fn()
        samples.append((time.perf_counter_ns() - t0) / iterations)
    return statistics.median(samples)


def _codecs() -> dict[str, tuple[str, Callable[[bytes], bytes], Callable[[bytes], bytes]]]:
    """Available compressors: name -> (library, compress, decompress)."""
    out: dict[str, tuple[str, Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {}
    try:
        import lz4
        import lz4.block

        def lz4_c(b: bytes) -> bytes:
            data: bytes = lz4.block.compress(b, store_size=False)
            return data

        def lz4hc_c(b: bytes) -> bytes:
            data: bytes = lz4.block.compress(b, mode="high_compression", compression=9,
                                             store_size=False)
            return data

        def lz4_d(b: bytes) -> bytes:
            data: bytes = lz4.block.decompress(b, uncompressed_size=PAGE_SIZE)
            return data

        version = f"lz4 {lz4.__version__}"
        out["lz4"] = (version, lz4_c, lz4_d)
        out["lz4hc"] = (version, lz4hc_c, lz4_d)
    except ImportError:  # pragma: no cover - dependency of the project
        pass
    try:
        import zstandard

        cctx = zstandard.ZstdCompressor(level=3)
        dctx = zstandard.ZstdDecompressor()

        def zstd_d(b: bytes) -> bytes:
            return dctx.decompress(b, max_output_size=PAGE_SIZE)

        out["zstd"] = (f"zstandard {zstandard.__version__}", cctx.compress, zstd_d)
    except ImportError:  # pragma: no cover
        pass

    def deflate_c(b: bytes) -> bytes:
        c = zlib.compressobj(6, zlib.DEFLATED, -11, 8)
        return c.compress(b) + c.flush()

    def deflate_d(b: bytes) -> bytes:
        return zlib.decompress(b, -11)

    out["deflate"] = (f"zlib {zlib.ZLIB_RUNTIME_VERSION}", deflate_c, deflate_d)
    try:
        import lzallright

        lzo = lzallright.LZOCompressor()
        version = getattr(lzallright, "__version__", "")
        out["lzo"] = (f"lzallright {version} (lzokay)".strip(), lzo.compress,
                      lzo.decompress)
    except ImportError:  # pragma: no cover
        pass
    return dict(sorted(out.items()))


#: Measurements that do not stand for the kernel step of the same name (see docstring).
_NOT_APPLIED = frozenset({"compress_lzo"})


def _cold_ns(pages: int, iterations: int, repeats: int) -> tuple[float, float] | None:
    """(memcmp-to-zero, memmove) ns per 4 KiB page over a buffer larger than the caches."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        memcmp = libc.memcmp
    except (OSError, AttributeError):  # pragma: no cover - no libc
        return None
    memcmp.restype = ctypes.c_int
    memcmp.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    size = pages * PAGE_SIZE
    zero_buf = (ctypes.c_char * size)()
    dst_buf = (ctypes.c_char * size)()
    ctypes.memset(zero_buf, 1, size)  # fault every page in, then make it zero again
    ctypes.memset(zero_buf, 0, size)
    ctypes.memset(dst_buf, 1, size)
    ref = (ctypes.c_char * PAGE_SIZE)()
    zaddr, daddr, raddr = (ctypes.addressof(zero_buf), ctypes.addressof(dst_buf),
                           ctypes.addressof(ref))
    n = max(1, min(iterations, pages))
    offsets = [((i * 7919) % pages) * PAGE_SIZE for i in range(n)]  # spread, not sequential

    def sample(fn: Callable[[int], Any], nbytes: int) -> float:
        best = []
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            for off in offsets:
                fn(off)
            best.append((time.perf_counter_ns() - t0) / n)
        return statistics.median(best)

    cmp4k = sample(lambda off: memcmp(zaddr + off, raddr, PAGE_SIZE), PAGE_SIZE)
    cmp8 = sample(lambda off: memcmp(zaddr + off, raddr, 8), 8)
    cpy4k = sample(lambda off: ctypes.memmove(daddr + off, zaddr + off, PAGE_SIZE), PAGE_SIZE)
    cpy8 = sample(lambda off: ctypes.memmove(daddr + off, zaddr + off, 8), 8)
    return max(cmp4k - cmp8, 1.0), max(cpy4k - cpy8, 1.0)


def _fault_ns(pages: int) -> float | None:
    """Mean ns of a first-touch fault on fresh anonymous memory (reference only)."""
    try:
        m = mmap.mmap(-1, pages * PAGE_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    except (OSError, AttributeError):  # pragma: no cover - non-Linux
        return None
    try:
        if hasattr(mmap, "MADV_NOHUGEPAGE"):
            # Huge pages would turn 512 faults into one and hide the per-page cost.
            m.madvise(mmap.MADV_NOHUGEPAGE)
        t0 = time.perf_counter_ns()
        for off in range(0, pages * PAGE_SIZE, PAGE_SIZE):
            m[off] = 1
        per = (time.perf_counter_ns() - t0) / pages
        # The same loop on now-present pages is the interpreter's share; subtract it.
        t0 = time.perf_counter_ns()
        for off in range(0, pages * PAGE_SIZE, PAGE_SIZE):
            m[off] = 2
        per -= (time.perf_counter_ns() - t0) / pages
        return max(per, 0.0)
    finally:
        m.close()


def calibrate(*, iterations: int = 2000, repeats: int = 5, seed: int = 0) -> dict[str, Any]:
    """Run every measurement; returns the JSON-ready result (see the module docstring).

    Raises:
        ConfigError: ``iterations`` or ``repeats`` is below 1.
    """
    if iterations < 1 or repeats < 1:
        raise ConfigError("--iterations and --repeats must be at least 1")
    pages = {"usemem": usemem_page(1), "random": random_page(seed)}
    rows: list[dict[str, Any]] = []

    def add(name: str, page: str, ns: float, library: str, ratio: float | None = None) -> None:
        rows.append({"name": name, "page": page, "ns": round(ns, 1), "library": library,
                     "ratio": None if ratio is None else round(ratio, 3),
                     "default_ns": getattr(DEFAULT_COSTS, name, None)})

    for algo, (library, comp, decomp) in _codecs().items():
        for page_name, page in pages.items():
            blob = comp(page)
            if decomp(blob) != page:
                raise DataLossError(f"{algo} round trip failed on the {page_name} page")
            ratio = PAGE_SIZE / len(blob)
            add(f"compress_{algo}", page_name,
                _time_ns(partial(comp, page), iterations, repeats), library, ratio)
            add(f"decompress_{algo}", page_name,
                _time_ns(partial(decomp, blob), iterations, repeats), library, ratio)

    cold = _cold_ns(16384, iterations, repeats)
    if cold is not None:
        add("zero_check", "cold", cold[0], "libc memcmp via ctypes, 64 MiB buffer, "
            "call overhead subtracted")
        add("page_copy", "cold", cold[1], "libc memmove via ctypes, 64 MiB buffer, "
            "call overhead subtracted")
    fault = _fault_ns(max(64, min(iterations, 16384)))
    if fault is not None:
        rows.append({"name": "anon_fault_zero_fill", "page": "zero", "ns": round(fault, 1),
                     "library": "mmap first touch minus second touch (reference only)",
                     "ratio": None, "default_ns": None, "applied": False})
    # The usemem page stands for the workloads' pages; the random-page rows are shown
    # for contrast only.
    for r in rows:
        r["applied"] = (r["default_ns"] is not None and r["name"] not in _NOT_APPLIED
                        and r["page"] in ("usemem", "cold"))
    overrides = {r["name"]: r["ns"] for r in rows if r["applied"]}
    return {
        "vswap_calibration": 1,
        "host": {"node": platform.node(), "machine": platform.machine(),
                 "processor": platform.processor(), "python": sys.version.split()[0],
                 "platform": platform.platform()},
        "iterations": iterations, "repeats": repeats, "seed": seed,
        "units": "ns per 4 KiB page (median of repeats)",
        "measurements": rows,
        "overrides": overrides,
    }


def _main(args: argparse.Namespace) -> int:
    if args.host or args.from_samples or args.remodel or args.no_model:
        return _main_host(args)
    result = calibrate(iterations=args.iterations, repeats=args.repeats, seed=args.seed)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"vswap calibrate: {result['units']}")
    for col, justify in (("entry", "left"), ("page", "left"), ("host ns", "right"),
                         ("default ns", "right"), ("ratio", "right"), ("applied", "left"),
        ("library", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in result["measurements"]:
        table.add_row(r["name"], r["page"], f"{r['ns']:.0f}",
                      "-" if r["default_ns"] is None else str(r["default_ns"]),
                      "-" if r["ratio"] is None else f"{r['ratio']:.2f}",
                      "yes" if r["applied"] else "no", r["library"])
    Console(width=140).print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


def _main_host(args: argparse.Namespace) -> int:
    """``--host``: run the calibration specs, fit, print the fit and its residuals."""
    from vswap.host import calibration as cal
    from vswap.host.runner import parse_cpu_set, require_root
    from vswap.units import parse_size

    if args.remodel and not args.from_samples:
        raise ConfigError("--remodel needs --from-samples FILE")
    if args.no_model and (args.from_samples or not args.host or not args.json):
        raise ConfigError("--no-model needs --host and --json FILE (and no --from-samples)")
    scale = _model_scale(args.model_scale)
    design = args.design or cal.MODEL_DESIGN
    if args.design is not None:
        from vswap.swap import DESIGNS

        if args.design not in DESIGNS:
            raise ConfigError(f"--design {args.design}: unknown design (known: "
                              f"{', '.join(DESIGNS)})")
    if args.from_samples:
        data, samples, pooled = _pooled_samples(args.from_samples)
        note = data["provenance"].get("note", "")
        if args.specs:
            wanted = {n.strip() for n in args.specs.split(",")}
            samples = [s for s in samples if s.spec in wanted]
            note = f"{note}; refit on {', '.join(s.spec for s in samples)}"
        if args.remodel:
            samples = [cal.model_sample(s, scale, lambda line: print(line, flush=True),
                                        design=design)
                       for s in samples]
            note = (f"{note.split('; the model ')[0]}; the model ({design}, cgroup "
                    f"v{samples[0].model_cgroup_version if samples else '?'}) at "
                    f"{args.model_scale} of the size")
        if pooled:
            note = f"{note}; {pooled}"
        kernel, host = data["provenance"]["kernel"], data["provenance"]["host"]
        date = data["provenance"].get("date")
    else:
        require_root("vswap calibrate --host")
        size = parse_size(args.size, what="--size")
        if size < 16 << 20:
            raise ConfigError(f"--size {args.size}: at least 16M (a calibration needs pages "
                              "to reclaim)")
        if args.runs < 1:
            raise ConfigError(f"--runs must be at least 1, not {args.runs}")
        cpus = parse_cpu_set(args.cpus)
        specs = list(cal.CAL_SPECS)
        if args.specs:
            known = {s.name: s for s in specs}
            names = [n.strip() for n in args.specs.split(",") if n.strip()]
            bad = [n for n in names if n not in known]
            if bad or not names:
                raise ConfigError(f"--specs: unknown spec {bad[0] if bad else ''!r} "
                                  f"(known: {', '.join(known)})")
            specs = [known[n] for n in names]
        partial = Path(f"{args.json}.partial") if args.json else None
        done: list[cal.SpecSample] = []
        if partial is not None and partial.exists():
            done = [cal.SpecSample(**s) for s in json.loads(partial.read_text())]

        def keep(samples: list[cal.SpecSample]) -> None:
            if partial is not None:
                partial.write_text(json.dumps([vars(s) for s in samples]))

        samples = cal.run_specs(specs, size=size, repeats=args.runs,
                                model_scale=None if args.no_model else scale,
                                progress=lambda line: print(line, flush=True), done=done,
                                on_sample=keep, cpus=cpus, design=design)
        kernel, host = cal.host_identity()
        note = (f"{len(specs)} specs ({', '.join(s.name for s in specs)}) at "
                f"{args.size}, each in its spec's limit (docs/costs.md), {args.runs} host "
                f"runs each on CPUs "
                f"{','.join(map(str, cpus))} (median sys of the workload plus kswapd); the "
                f"model ({design}) at {args.model_scale} of the size")
        date = None
        if args.no_model:
            prov = {"method": "calibrated", "kernel": kernel, "host": host,
                    "date": datetime.date.today().isoformat(),
                    "tool": "vswap calibrate --host --no-model",
                    "note": note.split("; the model ")[0]}
            samples_file = {"provenance": prov,
                            "fit": {"samples": [vars(s) for s in samples]}}
            Path(args.json).write_text(json.dumps(samples_file, indent=1) + "\n")
            Path(f"{args.json}.partial").unlink(missing_ok=True)
            print(f"wrote {args.json} (host samples; fit them with --from-samples "
                  f"{args.json} --remodel)")
            return 0
    result = cal.fit(samples)
    _print_fit(result)
    if args.json:
        out = cal.cost_file(result, kernel=kernel, host=host, note=note, date=date)
        out["fit"]["samples"] = [vars(s) for s in samples]
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        Path(f"{args.json}.partial").unlink(missing_ok=True)
        print(f"wrote {args.json}")
    return 0


def _pooled_samples(paths: list[str]) -> tuple[dict[str, Any], list[Any], str]:
    """The first file's data, the samples of every file, by spec in the order first
    seen (a later file's sample of a spec replaces an earlier one's), and what the later
    files added (for the provenance note; "" for one file).

    Raises:
        ConfigError: a file is missing, not a calibration's JSON, or from another kernel or
            host than the first.
    """
    from vswap.host import calibration as cal

    first: dict[str, Any] = {}
    pooled: dict[str, Any] = {}
    extra: list[str] = []
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
            prov = data["provenance"]
            samples = [cal.SpecSample(**s) for s in data["fit"]["samples"]]
        except OSError as exc:
            raise ConfigError(f"--from-samples {path}: {exc.strerror or exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"--from-samples {path}: not the JSON of a calibration "
                              f"--host run ({exc})") from None
        if not first:
            first = data
        elif (prov.get("kernel"), prov.get("host")) != (first["provenance"].get("kernel"),
                                                        first["provenance"].get("host")):
            raise ConfigError(f"--from-samples {path}: measured on {prov.get('kernel')} "
                              f"({prov.get('host')}), not on the first file's "
                              f"{first['provenance'].get('kernel')}")
        else:
            extra += [f"{s.spec} from {Path(path).name} ({prov.get('date', '?')}: "
                      f"{prov.get('note', '').split(';')[0]})" for s in samples]
        for sample in samples:
            pooled[sample.spec] = sample
    added = ("pooled with " + "; ".join(extra)) if extra else ""
    return first, list(pooled.values()), added


def _model_scale(text: str) -> float:
    """``--model-scale``: a fraction such as 1/4, in (0, 1].

    Raises:
        ConfigError: not a fraction in (0, 1].
    """
    try:
        num, _, den = text.partition("/")
        scale = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"--model-scale {text!r}: a fraction such as 1/4") from None
    if not 0 < scale <= 1:
        raise ConfigError(f"--model-scale {text}: between 0 and 1")
    return scale


def _print_fit(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from vswap.host.calibration import PARAMETERS

    console = Console(width=140)
    t = Table(title="vswap calibrate --host: fitted parameters (scale of the built-in "
                    "entries)")
    for col in ("parameter", "scale", "entries (ns: built-in -> fitted)", "stands for"):
        t.add_column(col)
    base = BUILTIN_COSTS
    for p, (names, what) in PARAMETERS.items():
        if not result.identified[p]:
            t.add_row(p, "-", "not charged by any spec: kept", what)
            continue
        t.add_row(p, f"{result.scales[p]:.3f}", ", ".join(
            f"{n} {getattr(base, n)} -> {getattr(result.costs, n)}" for n in names), what)
    console.print(t)
    r = Table(title="sys time per spec: kernel (median of runs) vs model, before and after "
                    "the fit")
    for col in ("spec", "kernel sys s", "spread", "model before", "model after", "residual",
                "left out", "kernel µs/swapped page", "model µs/swapped page"):
        r.add_column(col, justify="left" if col == "spec" else "right")
    for row in result.rows:
        r.add_row(row["spec"], f"{row['host_sys_s']:.3f}", f"{row['spread']:.0%}",
                  f"{row['model_sys_s_before']:.3f}", f"{row['model_sys_s_after']:.3f}",
                  f"{row['residual']:+.1%}", _pct(row.get("residual_left_out")),
                  "-" if row["host_us_per_swapped_page"] is None
                  else f"{row['host_us_per_swapped_page']:.2f}",
                  "-" if row["model_us_per_swapped_page"] is None
                  else f"{row['model_us_per_swapped_page']:.2f}")
    console.print(r)
    if not result.swapoff_rows:
        return
    o = Table(title="the swapoff call alone: sys time, kernel (median) vs model; 'left out': "
                    "the fit without that spec")
    for col in ("spec", "kernel sys s", "kernel real s", "model before", "model after",
                "residual", "left out"):
        o.add_column(col, justify="left" if col == "spec" else "right")
    for row in result.swapoff_rows:
        o.add_row(row["spec"], f"{row['host_sys_s']:.3f}", f"{row['host_real_s']:.3f}",
                  f"{row['model_sys_s_before']:.3f}", f"{row['model_sys_s_after']:.3f}",
                  _pct(row["residual"]), _pct(row.get("residual_left_out")))
    console.print(o)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"
