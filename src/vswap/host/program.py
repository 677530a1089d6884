"""The host's workload program: ``hostwl.c`` built with the machine's gcc, cached.

Models: nothing; it builds the real programs host runs execute. The C source ships with the
package; the binary goes to ``$XDG_CACHE_HOME/vswap`` (default ``~/.cache/vswap``) as
``vswap-hostwl-<sha256 of source and flags>``, so an edited source is rebuilt and an
unchanged one never is. The build needs nothing beyond gcc and the C library.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from vswap.host.state import HostError

__all__ = ["CFLAGS", "build_program", "cache_dir", "program_source"]

#: Optimised, warnings on, pthreads; no -march=native, so a cached binary is portable
#: between machines of one kind.
CFLAGS = ("-O2", "-Wall", "-Wextra", "-pthread", "-std=gnu11")


def program_source() -> bytes:
    return resources.files("vswap.host").joinpath("hostwl.c").read_bytes()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vswap"


def build_program(cc: str | None = None) -> Path:
    """The path of the built program, compiling it first if the cache lacks it.

    Raises:
        HostError: no C compiler, or the source did not compile (first line of its output).
    """
    src = program_source()
    compiler = cc or os.environ.get("CC") or "gcc"
    digest = hashlib.sha256(src + " ".join(CFLAGS).encode()).hexdigest()[:16]
    out = cache_dir() / f"vswap-hostwl-{digest}"
    if out.exists() and os.access(out, os.X_OK):
        return out
    path = shutil.which(compiler)
    if path is None:
        raise HostError(f"host runs build their workload program with a C compiler: "
                        f"{compiler!r} is not installed")
    out.parent.mkdir(parents=True, exist_ok=True)
    src_file = out.with_suffix(".c")
    src_file.write_bytes(src)
    tmp = out.with_suffix(".tmp")
    proc = subprocess.run([path, *CFLAGS, "-o", str(tmp), str(src_file)],
                          capture_output=True, text=True, check=False)
    src_file.unlink(missing_ok=True)
    if proc.returncode != 0:
        first = (proc.stderr or proc.stdout).strip().splitlines()
        raise HostError(f"building the host workload program failed: "
                        f"{first[0] if first else proc.returncode}")
    os.replace(tmp, out)
    return out
