"""Files at the edges: inputs checked for kind and size before they are read, outputs written
atomically (a temporary file in the target's folder, then ``rename``).

A base module (it imports only :mod:`vswap.errors`), so every layer may use it. Every
failure is a :class:`~vswap.errors.ConfigError` of one line naming the file and what is
wrong with it, which the CLI prints as ``vswap: error: ...`` (exit 2).

Why each rule:

* An input is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor:
  opening a FIFO blocks until a writer appears, and reading ``/dev/zero`` never ends, so
  only regular files (and, where a caller allows it, block devices) are read, and only up
  to a size limit the caller names.
* An output goes to a temporary file next to the target and is renamed over it only once
  every byte is written and flushed, so a full disk or a crash leaves the old file (or no
  file) rather than half a file; a target that exists and is not a regular file
  (``/dev/full``, a folder, a FIFO) is refused, because ``rename`` would replace the device
  node or fail late.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from vswap.errors import ConfigError

#: The largest result, config or cost file read (bytes): far above any the project writes.
MAX_INPUT_BYTES = 256 << 20


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _strerror(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return exc.strerror or str(exc)


def open_input(path: str | os.PathLike[str], *, what: str, max_bytes: int = MAX_INPUT_BYTES,
               block_device: bool = False, flags: int = os.O_RDONLY) -> int:
    """Open ``path`` without blocking and return the descriptor, after checking that it is a
    regular file (or a block device when ``block_device``) of at most ``max_bytes``.

    Raises:
        ConfigError: missing, unreadable, the wrong kind, or too large (names ``what``,
            the path and the problem); the descriptor is closed then.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"{what} {name}: {_strerror(exc)}") from None
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) or (block_device and stat.S_ISBLK(st.st_mode))):
            raise ConfigError(f"{what} {name}: {_kind(st.st_mode)}, not a regular file")
        if stat.S_ISREG(st.st_mode) and st.st_size > max_bytes:
            raise ConfigError(f"{what} {name}: {st.st_size} bytes, more than the "
                              f"{max_bytes} this reads")
        # Reads of a regular file never block; clear the flag so they behave as usual.
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_input_bytes(path: str | os.PathLike[str], *, what: str,
                     max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (checked as :func:`open_input` checks it)."""
    fd = open_input(path, what=what, max_bytes=max_bytes)
    try:
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:  # grew while being read
                raise ConfigError(f"{what} {os.fspath(path)}: more than the {max_bytes} "
                                  "bytes this reads")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"{what} {os.fspath(path)}: {_strerror(exc)}") from None
    finally:
        os.close(fd)


def read_input_text(path: str | os.PathLike[str], *, what: str,
                    max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of the regular file ``path`` (checked as :func:`open_input` checks it)."""
    data = read_input_bytes(path, what=what, max_bytes=max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {os.fspath(path)}: not UTF-8 text (byte {exc.start})"
                          ) from None


def check_output_path(path: str | os.PathLike[str], *, what: str) -> Path:
    """Refuse, before any work is done, an output ``path`` that cannot be written: one that
    exists and is not a regular file, or whose nearest existing ancestor is not a writable
    directory. Returns the path.

    Raises:
        ConfigError: naming ``what``, the path and the problem.
    """
    p = Path(path)
    name = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ConfigError(f"{what} {name}: {_strerror(exc)}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{what} {name}: {_kind(st.st_mode)}, not a regular file")
    parent = p.absolute().parent
    while True:
        try:
            pst = os.stat(parent)
        except FileNotFoundError:
            parent = parent.parent
            continue
        except OSError as exc:
            raise ConfigError(f"{what} {name}: {parent}: {_strerror(exc)}") from None
        if not stat.S_ISDIR(pst.st_mode):
            raise ConfigError(f"{what} {name}: {parent} is {_kind(pst.st_mode)}, "
                              "not a directory")
        # A probe file, not os.access: root passes every access() test, and a read-only
        # mount (sysfs, a ro bind) refuses only the real create.
        try:
            fd, probe = tempfile.mkstemp(prefix=".vswap-probe-", dir=parent)
        except OSError as exc:
            raise ConfigError(f"{what} {name}: cannot create files in {parent}: "
                              f"{_strerror(exc)}") from None
        os.close(fd)
        os.unlink(probe)
        return p


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, what: str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over
    ``path`` once complete (missing parent folders are made).

    Raises:
        ConfigError: the result could not be written (names ``what``, the path and the
            reason); ``path`` is then as it was before, and no temporary file is left.
    """
    p = check_output_path(path, what=what)
    name = os.fspath(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp: str | None = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # what open() would have given a new file
        os.replace(tmp, p)
        tmp = None
    except OSError as exc:
        raise ConfigError(f"{what} {name}: could not write the result there: "
                          f"{_strerror(exc)}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return p
