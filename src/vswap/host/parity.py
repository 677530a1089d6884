"""``vswap parity``: the host kernel and the model on one run specification, side by side.

Models: nothing; it compares. :func:`parity_rows` takes a host result (design ``host``) and
model results of the same spec and lines up every counter a host run records, peak swap
slots, zswap and zram sizes and times, with each model/kernel ratio. It works on result
dicts, so saved results (``vswap parity --from FILE``) format the same as fresh ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["COUNTERS", "parity_rows", "run_parity"]

#: Counters compared, in order (both sides' ``vmstat``).
COUNTERS = ("pgfault", "pgmajfault", "pgscan_anon", "pgsteal_anon", "pgrotated", "pswpout",
            "zswpout", "swpout_zero", "pswpin", "zswpin", "swpin_zero", "zswpwb", "swap_ra",
            "swap_ra_hit", "workingset_refault_anon")


def _get(d: dict[str, Any], *path: str) -> float | None:
    cur: Any = d
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return float(cur) if isinstance(cur, int | float) and not isinstance(cur, bool) else None


def _zram_key(r: dict[str, Any]) -> str | None:
    return next((k for k in sorted(r.get("kernel_stats", {})) if k.startswith("zram")), None)


def _values(r: dict[str, Any]) -> list[tuple[str, str, float | None]]:
    """``(group, name, value)`` of everything compared, for one result dict."""
    out: list[tuple[str, str, float | None]] = []
    vm = r.get("vmstat", {})
    for k in COUNTERS:
        out.append(("counters", k, float(vm.get(k, 0))))
    devs = r.get("devices") or [{}]
    out.append(("swap", "peak slots used", _get(devs[0], "peak_used_pages")))
    out.append(("swap", "slots used at end", _get(devs[0], "used_pages")))
    ks = r.get("kernel_stats", {})
    if "zswap" in ks:
        for k in ("peak_stored_pages", "peak_pool_total_size", "written_back_pages",
                  "reject_compress_poor"):
            out.append(("zswap", k, _get(ks, "zswap", k)))
    zk = _zram_key(r)
    if zk is not None:
        for k in ("orig_data_size", "compr_data_size", "mem_used_total"):
            out.append(("zram", f"peak {k}", _get(ks, zk, "peak", k)))
        for k in ("same_pages", "huge_pages"):
            out.append(("zram", k, _get(ks, zk, "mm_stat", k)))
    m = r.get("metrics", {})
    for k in ("real_s", "user_s", "sys_s", "free_time_s"):
        out.append(("times", k, _get(m, k)))
    sw = r.get("swapoff") or {}
    if sw:
        for k in ("real_s", "sys_s", "pages_read"):
            out.append(("swapoff", k, _get(sw, k)))
    return out


def parity_rows(host: dict[str, Any], models: Sequence[dict[str, Any]]
                ) -> list[dict[str, Any]]:
    """One row per compared value: ``group``, ``name``, ``host``, and per model design
    its value and ``ratio`` (model / kernel; None when the kernel's value is 0 or missing).

    A value only one side has (zram sizes on a zswap run) is shown where it exists.
    """
    host_vals = {(g, n): v for g, n, v in _values(host)}
    model_vals = [{(g, n): v for g, n, v in _values(m)} for m in models]
    keys = list(host_vals)
    for mv in model_vals:
        keys += [k for k in mv if k not in keys]
    rows = []
    for g, n in keys:
        hv = host_vals.get((g, n))
        row: dict[str, Any] = {"group": g, "name": n, "host": hv, "models": {}}
        for m, mv in zip(models, model_vals, strict=True):
            v = mv.get((g, n))
            ratio = v / hv if v is not None and hv else None
            row["models"][m.get("design", "?")] = {"value": v, "ratio": ratio}
        rows.append(row)
    return rows


def run_parity(host_config: Any, designs: Sequence[str], *, costs: Any = None,
               cost_provenance: dict[str, Any] | None = None,
               progress: Callable[[str], None] | None = None) -> tuple[Any, list[Any]]:
    """Run ``host_config`` (a :class:`~vswap.host.runner.HostRunConfig`) on the host, then
    each design of ``designs`` on the model with the same flags, the host's RAM (so
    zswap's pool limit and global reclaim are the host's) and the host's cgroup version
    (on v1 zswap's pool is not charged to the cgroup: ``obj_cgroup_charge_zswap()``) and
    the host swap file's rotational flag (``model_swap_devices``: a swap file on a disk that
    reports itself rotational turns the kernel's VMA readahead off).

    Raises:
        HostError: not root, or the host run failed (the machine is cleaned up).
        ConfigError: a flag the model cannot take.
    """
    from vswap.host.runner import host_ram, model_swap_devices, run_host
    from vswap.run.context import RunConfig, run_workload

    host = run_host(host_config)
    if progress is not None:
        progress(f"host: real {host.metrics.real_s:.2f} s, sys {host.metrics.sys_s:.2f} s")
    models = []
    for design in designs:
        rc = RunConfig(design=design, workload=host_config.workload,
                       memory_max=host_config.memory_max,
                       swap_devices=model_swap_devices(list(host_config.swap_devices),
                                                       host.devices),
                       zswap=host_config.zswap,
                       cpus=len(host_config.cpus) or 1,
                       ram=host_ram(host.meminfo) or None,
                       cgroup_version=int(host.kernel_stats.get("host", {}).get(
                           "cgroup_version", 2)))
        if costs is not None:
            rc.costs = costs
            rc.cost_provenance = dict(cost_provenance or {})
        m = run_workload(rc)
        if progress is not None:
            progress(f"model {design}: real {m.metrics.real_s:.2f} s, sys "
                     f"{m.metrics.sys_s:.2f} s")
        models.append(m)
    return host, models
