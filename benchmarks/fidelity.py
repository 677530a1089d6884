"""The fidelity table: the classic model against this host's kernel (docs/fidelity.md).

For every swap setup (a swap file; the swap file with zswap lzo; zram lz4) and workload
(usemem, pattern with each content, pageout, swapoff) at ``--scale`` of 512 MiB of data in
a 256 MiB limit with a 1 GiB device, run the spec once on the host (``vswap host run``)
and on the model's ``classic`` with each cost table given (``--costs``, repeatable; the
built-in table always), then print per spec the model/kernel ratio of every swap counter,
readahead and peak slots, sys time per swapped page, and swapoff's time ratios between the
setups. The model's cgroups are of the host's version (``--cgroup-version``: on v1
zswap's pool is not charged to the cgroup). The model runs once per spec with a tallying
recorder; its sys time at another table is the tally priced at that table (exact for one
task without lock contention); the swapoff spec, whose times include I/O waits and four
tasks, runs once per table. Needs root.
Saves every result and the table to ``results/fidelity.json``.
Usage: ``sudo python benchmarks/fidelity.py [--scale 1/4] [--costs FILE] [--only A,B]``;
``--host-only --json H`` measures the kernel side alone, ``--from-host H`` runs the model
side against it, and ``--from-model M --from-host H`` pairs a saved model side with
other host rows (no runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from _common import RESULTS
from vswap.config.costs import builtin_provenance, load_cost_file
from vswap.host.calibration import swapped_pages
from vswap.host.cgroup import find_memory_hierarchy
from vswap.host.runner import (
    HostRunConfig,
    block_rotational,
    host_ram,
    model_swap_devices,
    parse_cpu_set,
    run_host,
)
from vswap.host.state import HostError, host_dir
from vswap.host.swapdev import block_of
from vswap.run.charge import TallyingRecorder
from vswap.run.context import RunConfig, parse_device_spec, run_workload
from vswap.sim.costs import BUILTIN_COSTS

SETUPS = {"file": ("file:{dev}", None), "zswap-lzo": ("file:{dev}", "lzo"),
          "zram-lz4": ("zram:{dev},comp=lz4", None)}
WORKLOADS = {"usemem": "usemem -n 1 {size}",
             **{f"pattern-{c}": f"pattern --size {{size}} --content {c}"
                for c in ("zero", "random", "text", "mixed")},
             "pageout": "pageout --size {size} --content mixed",
             "swapoff": "swapoff --fill 0.5 --tasks 4 --unrelated {size}"}
COUNTERS = ("pswpout", "zswpout", "swpout_zero", "pswpin", "zswpin", "swpin_zero", "zswpwb",
            "swap_ra", "swap_ra_hit", "pgmajfault")


def _ratio(m: float, h: float) -> float | None:
    return round(m / h, 3) if h else None


def _cell(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def summary(rows: list[dict[str, Any]], tables: list[str]) -> list[str]:
    """The markdown of docs/fidelity.md: model/kernel ratios per spec (counters the kernel
    counted at all), sys per swapped page before and after calibration, swapoff ratios."""
    cols = [*COUNTERS, "peak_slots"]
    out = ["| setup | workload | " + " | ".join(cols) + " | " + " | ".join(
        f"sys/page {t}" for t in tables) + " |",
           "|---|---|" + "---|" * (len(cols) + len(tables))]
    for r in rows:
        if "failed" in r["host"]:
            out.append(f"| {r['setup']} | {r['workload']} | kernel run failed: "
                       f"{r['host']['failed']} |" + " |" * (len(cols) + len(tables) - 1))
            continue
        first = r[tables[0]]
        cells = [_cell(first[k]) for k in cols]
        cells += [_cell(r[t]["sys_per_swapped_page_ratio"]) for t in tables]
        out.append(f"| {r['setup']} | {r['workload']} | " + " | ".join(cells) + " |")
    offs = {r["setup"]: r for r in rows
            if r["workload"] == "swapoff" and "failed" not in r["host"]}
    if "file" in offs:
        out.append("")
        out.append("| swapoff, relative to the swap file | kernel real | " + " | ".join(
            f"model real ({t})" for t in tables) + " | kernel sys | " + " | ".join(
            f"model sys ({t})" for t in tables) + " |")
        out.append("|---|---|" + "---|" * (2 * len(tables) + 1))
        base = offs["file"]
        for setup, r in offs.items():
            cells = [_cell(_ratio(r["host"]["swapoff_real_s"],
                                  base["host"]["swapoff_real_s"]))]
            cells += [_cell(_ratio(r[t]["swapoff_real_s"], base[t]["swapoff_real_s"]))
                      for t in tables]
            cells += [_cell(_ratio(r["host"]["swapoff_sys_s"], base["host"]["swapoff_sys_s"]))]
            cells += [_cell(_ratio(r[t]["swapoff_sys_s"], base[t]["swapoff_sys_s"]))
                      for t in tables]
            out.append(f"| {setup} | " + " | ".join(cells) + " |")
    return out


def host_row(workload: str, limit: int, spec: Any, zswap: str | None, repeats: int,
             cpus: list[int]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run one spec ``repeats`` times on the host: the row's host side (counters of the
    run whose sys time per swapped page is the median, that median, median swapoff times)
    and every run's result."""
    import statistics

    sides: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    failures = 0
    while len(sides) < repeats:
        try:
            host = run_host(HostRunConfig(workload=workload, memory_max=limit,
                                          swap_devices=[spec], zswap=zswap, cpus=list(cpus)))
        except HostError as exc:
            # The cgroup v1 OOM killer sometimes takes a run whose pages are all under
            # writeback; the machine is cleaned up, so run it again (at most twice).
            failures += 1
            print(f"  host run failed ({exc}); {'again' if failures < 3 else 'giving up'}",
                  file=sys.stderr, flush=True)
            if failures >= 3:
                raise
            continue
        hk = float(host.kernel_stats.get("kswapd", {}).get("stime_s", 0.0))
        h_sys = host.metrics.sys_s + hk
        h_sw = swapped_pages(host.vmstat)
        side: dict[str, Any] = {k: host.vmstat.get(k, 0) for k in COUNTERS}
        side["peak_slots"] = host.devices[0]["peak_used_pages"] if host.devices else 0
        side["cgroup_version"] = host.kernel_stats.get("host", {}).get("cgroup_version", 2)
        side["device_rotational"] = bool(host.devices and host.devices[0].get("rotational"))
        side["sys_s"] = round(h_sys, 4)
        side["us_per_swapped_page"] = round(h_sys / h_sw * 1e6, 3) if h_sw else None
        if host.swapoff:
            side["swapoff_real_s"] = host.swapoff["real_s"]
            side["swapoff_sys_s"] = host.swapoff["sys_s"]
        sides.append(side)
        results.append(host.to_dict())
    per_page = [s["us_per_swapped_page"] or s["sys_s"] for s in sides]
    mid = sorted(range(len(sides)), key=lambda i: per_page[i])[len(sides) // 2]
    row = dict(sides[mid])
    row["repeats"] = len(sides)
    row["failed_runs"] = failures
    row["us_per_swapped_page_runs"] = [s["us_per_swapped_page"] for s in sides]
    row["spread"] = round((max(per_page) - min(per_page)) / per_page[mid], 3) \
        if per_page[mid] else 0.0
    for key in ("swapoff_real_s", "swapoff_sys_s"):
        if key in row:
            row[key] = statistics.median(s[key] for s in sides)
            row[f"{key}_runs"] = [s[key] for s in sides]
    return row, results


def model_ratios(side: dict[str, Any], host: dict[str, Any]) -> dict[str, Any]:
    """A saved model side (its ``counts``, ``sys_s``, ``us_per_swapped_page`` and swapoff
    times) with its model/kernel ratios taken against ``host`` (a host row)."""
    counts = side["counts"]
    out: dict[str, Any] = {k: _ratio(counts.get(k, 0), host.get(k, 0)) for k in COUNTERS}
    out["peak_slots"] = _ratio(counts["peak_slots"], host["peak_slots"])
    out["counts"] = dict(counts)
    for k in ("sys_s", "us_per_swapped_page", "swapoff_real_s", "swapoff_sys_s"):
        if k in side:
            out[k] = side[k]
    out["sys_per_swapped_page_ratio"] = (
        _ratio(side["us_per_swapped_page"], host["us_per_swapped_page"])
        if side.get("us_per_swapped_page") and host.get("us_per_swapped_page") else None)
    return out


def repair(model_file: str, host_files: list[str], json_out: str | None) -> int:
    """``--from-model``: the model sides of a saved run against other host rows of the
    same specs (another session's kernel, a quieter machine); prints the table."""
    data = json.loads(Path(model_file).read_text())
    host: dict[tuple[str, str], dict[str, Any]] = {}
    for name in host_files:
        saved = json.loads(Path(name).read_text())
        if (saved["size"], saved["memory_max"], saved["device"]) != (
                data["size"], data["memory_max"], data["device"]):
            print(f"{name}: other sizes than {model_file}'s", file=sys.stderr)
            return 2
        host.update({(r["setup"], r["workload"]): r["host"] for r in saved["rows"]})
    rows = []
    names: list[str] = []
    for r in data["rows"]:
        h = host.get((r["setup"], r["workload"]))
        if h is None or "failed" in h:
            continue
        sides = [k for k in r if k not in ("setup", "workload", "spec", "host")]
        if not sides:
            continue  # the saved run had no model side for it (its host run failed)
        names = names or sides
        rows.append({"setup": r["setup"], "workload": r["workload"], "spec": r["spec"],
                     "host": h, **{k: model_ratios(r[k], h) for k in sides}})
    print("\n".join(summary(rows, names)))
    if json_out:
        Path(json_out).write_text(json.dumps({**{k: v for k, v in data.items()
                                                 if k not in ("rows", "runs")},
                                              "rows": rows, "model_from": model_file,
                                              "host_from": host_files}, indent=1))
        print(f"saved {json_out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", default="1/4")
    p.add_argument("--costs", action="append", default=[])
    p.add_argument("--only", default=None, help="setup:workload pairs, comma separated")
    p.add_argument("--json", default=None)
    p.add_argument("--repeats", type=int, default=1,
                   help="host runs per spec (the row takes the run with the median sys "
                        "per swapped page, and median swapoff times)")
    p.add_argument("--cpus", default=None, help="the host runs' CPU set (default: all)")
    p.add_argument("--host-only", action="store_true",
                   help="run the host side only and save it (--json) for --from-host")
    p.add_argument("--from-host", action="append", default=[], metavar="FILE",
                   help="take the host side from saved --host-only (or full) results "
                        "(repeatable) and run the model side only (no root)")
    p.add_argument("--design", default="classic",
                   help="the model design to compare (default classic)")
    p.add_argument("--summary", default=None, metavar="FILE",
                   help="print the table of a saved fidelity JSON and exit")
    p.add_argument("--from-model", default=None, metavar="FILE",
                   help="with --from-host: take the model side from a saved full run "
                        "(same spec sizes) instead of running the model, pair it with the "
                        "host rows given and print the table (--json saves it)")
    args = p.parse_args(argv)
    if args.from_model:
        if not args.from_host:
            p.error("--from-model needs --from-host FILE")
        return repair(args.from_model, args.from_host, args.json)
    if args.summary:
        data = json.loads(Path(args.summary).read_text())
        names = next(([k for k in r if k not in ("setup", "workload", "spec", "host")]
                      for r in data["rows"] if "failed" not in r["host"]), [])
        print("\n".join(summary(data["rows"], names)))
        return 0
    num, _, den = args.scale.partition("/")
    scale = float(num) / float(den) if den else float(num)
    size, limit, dev = (int(x * scale) for x in (512 << 20, 256 << 20, 1 << 30))
    saved: dict[tuple[str, str], dict[str, Any]] = {}
    for name in args.from_host:
        data = json.loads(Path(name).read_text())
        saved.update({(r["setup"], r["workload"]): r["host"] for r in data["rows"]})
        size, limit, dev = data["size"], data["memory_max"], data["device"]
    tables = [("builtin", BUILTIN_COSTS, builtin_provenance().as_json())] + [
        (Path(f).stem, *(lambda t: (t[0], t[1].as_json()))(load_cost_file(f)))
        for f in args.costs]
    only = set(args.only.split(",")) if args.only else None
    cpus = parse_cpu_set(args.cpus)
    # The model's machine has the host's RAM, so zswap's pool limit (max_pool_percent of
    # RAM) and global reclaim are the host's, not those of the default 2 x limit + 64M.
    ram = host_ram() or None
    # The model's cgroups are the host's version: on v1 zswap's pool is not charged to the
    # cgroup (docs/zswap.md). Saved host rows without it were made on this machine.
    try:
        local_cgroup_version = find_memory_hierarchy()[0]
    except HostError:
        local_cgroup_version = 2
    # A swap file on a disk that reports itself rotational (this VM's vda does) turns the
    # kernel's VMA readahead off (nr_rotate_swap); the model's swap file gets the same flag.
    # Saved host rows without one were made on this machine.
    local_rotational = block_rotational(block_of(host_dir().parent))
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for setup, (devtext, zswap) in SETUPS.items():
        for wname, wtext in WORKLOADS.items():
            if only is not None and f"{setup}:{wname}" not in only:
                continue
            if args.from_host and (setup, wname) not in saved:
                continue
            spec = parse_device_spec(devtext.format(dev=f"{dev >> 20}M"))
            assert spec is not None
            workload = wtext.format(size=f"{size >> 20}M" if wname != "swapoff"
                                    else f"{4 * size >> 20}M")
            t0 = time.monotonic()
            row: dict[str, Any] = {"setup": setup, "workload": wname, "spec": workload}
            if args.from_host:
                row["host"] = saved[(setup, wname)]
            else:
                try:
                    row["host"], results = host_row(workload, limit, spec, zswap,
                                                    max(1, args.repeats), cpus)
                except HostError as exc:
                    # Three failed host runs: the spec has no kernel side. Keep the row
                    # (the table says so) and go on with the other specs.
                    row["host"] = {"failed": str(exc)}
                    results = []
                runs += [{"setup": setup, "workload": wname, "side": "host", "result": r}
                         for r in results]
            if args.host_only or "failed" in row["host"]:
                rows.append(row)
                print(json.dumps(row), flush=True)
                continue
            tally: list[TallyingRecorder] = []

            class Rec(TallyingRecorder):
                def __init__(self, *a: Any, made: list[TallyingRecorder] = tally) -> None:
                    super().__init__(*a)
                    made.append(self)

            base_run: Any = None
            for tname, costs, prov in tables:
                if base_run is not None and wname != "swapoff":
                    m = base_run
                    sys_s = base_run.metrics.sys_s + (tally[-1].priced_ns(costs)
                                                      - tally[-1].priced_ns()) / 1e9
                else:
                    rc = RunConfig(design=args.design, workload=workload, memory_max=limit,
                                   swap_devices=model_swap_devices([spec], [{
                                       "rotational": row["host"].get("device_rotational",
                                                                     local_rotational)}]),
                                   zswap=zswap, cpus=2, costs=costs,
                                   cost_provenance=prov, recorder_class=Rec, ram=ram,
                                   cgroup_version=int(row["host"].get(
                                       "cgroup_version", local_cgroup_version)))
                    m = run_workload(rc)
                    base_run = base_run or m
                    sys_s = m.metrics.sys_s
                    runs.append({"setup": setup, "workload": wname, "side": tname,
                                 "result": m.to_dict()})
                m_sw = swapped_pages(m.vmstat)
                counts = {k: m.vmstat.get(k, 0) for k in COUNTERS}
                counts["peak_slots"] = m.devices[0]["peak_used_pages"]
                side: dict[str, Any] = {
                    "counts": counts, "sys_s": round(sys_s, 4),
                    "us_per_swapped_page": round(sys_s / m_sw * 1e6, 3) if m_sw else None}
                if m.swapoff:
                    side["swapoff_real_s"] = m.swapoff.get("real_s")
                    side["swapoff_sys_s"] = m.swapoff.get("sys_s")
                row[tname] = model_ratios(side, row["host"])
            rows.append(row)
            print(json.dumps(row), flush=True)
            print(f"  ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    path = Path(args.json) if args.json else RESULTS / "fidelity.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": "fidelity", "scale": args.scale,
                                "size": size, "memory_max": limit, "device": dev,
                                "design": args.design, "host_repeats": args.repeats,
                                "model_ram": ram,
                                "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": rows,
                                "runs": runs}, indent=1))
    if not args.host_only:
        print("\n".join(summary(rows, [t[0] for t in tables])))
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
