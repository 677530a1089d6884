"""zswap's module parameters and debugfs statistics on the host.

Models: nothing; it reads and writes the real kernel's ``/sys/module/zswap/parameters/``
(``enabled``, ``compressor``, ``max_pool_percent``, ``accept_threshold_percent``,
``shrinker_enabled``; mm/zswap.c ``module_param_cb``) and its debugfs directory
``/sys/kernel/debug/zswap/`` (``pool_total_size``, ``stored_pages``,
``written_back_pages``, ``reject_*``, ``pool_limit_hit``, ... : mm/zswap.c
``zswap_debugfs_init``). Values are written in the kernel's syntax (``Y``/``N`` for
booleans).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vswap.host.state import HostError, HostState, libc_call

__all__ = ["DEBUGFS", "PARAMS_DIR", "ZSWAP_PARAMS", "apply_params", "debugfs_stats",
           "ensure_debugfs", "read_params", "restore_params"]

PARAMS_DIR = Path("/sys/module/zswap/parameters")
DEBUGFS = Path("/sys/kernel/debug")
#: The parameters a host run sets, in the order they are written (``enabled`` last when
#: turning zswap on, so the pool is created with the chosen compressor).
ZSWAP_PARAMS = ("compressor", "max_pool_percent", "accept_threshold_percent",
                "shrinker_enabled", "enabled")


def available() -> bool:
    return PARAMS_DIR.is_dir()


def read_params() -> dict[str, str]:
    """The current values, as the kernel prints them (``Y``/``N``, numbers, names)."""
    out: dict[str, str] = {}
    for name in ZSWAP_PARAMS:
        path = PARAMS_DIR / name
        if path.exists():
            out[name] = path.read_text().strip()
    return out


def _kernel_value(value: Any) -> str:
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def _write(name: str, value: str) -> None:
    try:
        (PARAMS_DIR / name).write_text(value)
    except OSError as exc:
        raise HostError(f"zswap {name}={value}: {exc.strerror or exc}") from None


def apply_params(state: HostState, wanted: dict[str, Any]) -> dict[str, str]:
    """Set zswap parameters for a run, journalling the values found first.

    Returns the values in force afterwards.

    Raises:
        HostError: zswap is not built into this kernel, or the kernel refused a value (an
            unknown compressor, say).
    """
    if not available():
        raise HostError("this kernel has no zswap (/sys/module/zswap/parameters is missing)")
    found = read_params()
    state.record("zswap", params=found)
    values = {k: _kernel_value(v) for k, v in wanted.items()}
    unknown = set(values) - set(ZSWAP_PARAMS)
    if unknown:
        raise HostError(f"zswap: unknown parameter {sorted(unknown)[0]!r} "
                        f"(known: {', '.join(ZSWAP_PARAMS)})")
    comp = values.get("compressor")
    have = kernel_compressors()
    if comp is not None and have and comp not in have:
        raise HostError(f"zswap: this kernel has no compressor {comp!r} "
                        f"(/proc/crypto offers: {', '.join(sorted(have))})")
    if values.get("enabled") == "N":
        _write("enabled", "N")
    for name in ZSWAP_PARAMS:
        if name in values and found.get(name) != values[name]:
            _write(name, values[name])
    return read_params()


#: Compression algorithms zswap may use (``crypto_has_acomp``), when /proc/crypto lists them.
_COMPRESSION = ("lzo", "lzo-rle", "lz4", "lz4hc", "zstd", "deflate", "842")


def kernel_compressors() -> set[str]:
    """Compression algorithms the kernel's crypto API has (``/proc/crypto`` names)."""
    try:
        text = Path("/proc/crypto").read_text()
    except OSError:
        return set()
    names = {line.split(":", 1)[1].strip() for line in text.splitlines()
             if line.startswith("name")}
    return names & set(_COMPRESSION)


def restore_params(params: dict[str, str]) -> None:
    """Write back the values a run found (``enabled`` first when it was off, so nothing
    more is stored while the rest is restored)."""
    if params.get("enabled") == "N":
        _write("enabled", "N")
    current = read_params()
    for name in ZSWAP_PARAMS:
        if name in params and current.get(name) != params[name]:
            _write(name, params[name])


def ensure_debugfs(state: HostState) -> Path | None:
    """The zswap debugfs directory, mounting debugfs (journalled) when it is not mounted.

    Returns None when the kernel has no zswap debugfs directory even with debugfs mounted.
    """
    zdir = DEBUGFS / "zswap"
    if zdir.is_dir():
        return zdir
    if not os.path.ismount(DEBUGFS):
        state.record("mount", target=str(DEBUGFS))
        try:
            libc_call("mount", b"debugfs", str(DEBUGFS).encode(), b"debugfs", 0, None)
        except OSError as exc:
            raise HostError(f"mount debugfs on {DEBUGFS}: {exc.strerror}") from None
    return zdir if zdir.is_dir() else None


def debugfs_stats(zdir: Path | None) -> dict[str, int]:
    """Every counter in zswap's debugfs directory, by its file name."""
    out: dict[str, int] = {}
    if zdir is None:
        return out
    for path in sorted(zdir.iterdir()):
        try:
            out[path.name] = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return out
