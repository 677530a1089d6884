"""The host run's journal of machine changes, and the cleanup that undoes them.

Models: nothing in the kernel. Every change a host run makes to the machine (a cgroup, a swap
file, a ``swapon``, a configured zram device, zswap module parameters, a debugfs mount) is
recorded in the state file *before* it is made, so whatever ends the run (success, an error,
Ctrl-C, SIGTERM, ``kill -9``, a crash of the machine's Python) the next ``vswap host cleanup``
(or the next ``vswap host run``, which cleans up a dead run's state first) can undo it.

The state file is ``$VSWAP_HOST_DIR/state.json`` (default ``/var/tmp/vswap-host``; on the root
file system, so a swap file made there can be swapped on, and kept across a reboot, so its
file is still removed). It is written atomically (temporary file, fsync, rename). Its
``actions`` list holds one object per change, by ``kind``:

==============  ===========================================  ==============================
kind            fields                                       undone by
==============  ===========================================  ==============================
``cgroup``      ``path`` (absolute cgroupfs directory)       kill its tasks, ``rmdir``
``subtree``     ``path``, ``controller`` (cgroup v2)         ``-controller`` to
                                                             ``cgroup.subtree_control``
``swapon``      ``path`` (swap file or ``/dev/zramN``)       ``swapoff(2)`` if still on
``zram``        ``device`` (``zram0``)                       ``1 > reset``
``file``        ``path``                                     ``unlink``
``zswap``       ``params`` (name -> value found)             each written back
``mount``       ``target``                                   ``umount``
==============  ===========================================  ==============================

Invariant: the state file exists exactly while something of a host run may be left on the
machine; :func:`cleanup` removes it (and the directory, when empty) only when every recorded
action was undone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError

__all__ = ["CLEANUP_ORDER", "HostError", "HostState", "cleanup", "host_dir", "libc_call",
           "proc_swaps", "state_path"]

#: The order cleanup undoes kinds of change in: tasks die before their swap goes, swap goes
#: before the zram device is reset and the cgroup can be removed, zswap parameters are
#: restored once no swap is left, the debugfs mount goes last.
CLEANUP_ORDER = ("cgroup-tasks", "swapon", "zram", "cgroup", "subtree", "file", "zswap",
                 "mount")


class HostError(ConfigError):
    """A host run cannot start or could not leave the machine clean (one line)."""


def host_dir() -> Path:
    """Where host runs keep their state file and swap files."""
    return Path(os.environ.get("VSWAP_HOST_DIR", "/var/tmp/vswap-host"))


def state_path() -> Path:
    return host_dir() / "state.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class HostState:
    """The journal of one host run (see the module docstring)."""

    owner_pid: int
    started: float
    actions: list[dict[str, Any]] = field(default_factory=list)

    # -- the file ---------------------------------------------------------------------------
    @classmethod
    def load(cls) -> HostState | None:
        """The state on disk, or None when there is none.

        Raises:
            HostError: the file exists but is not a state file.
        """
        path = state_path()
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            raise HostError(f"{path}: unreadable host state ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("actions"), list):
            raise HostError(f"{path}: not a vswap host state file")
        return cls(int(data.get("owner_pid", 0)), float(data.get("started", 0.0)),
                   list(data["actions"]))

    @classmethod
    def claim(cls) -> HostState:
        """Start a new run's journal; a dead run's state is cleaned up first.

        Raises:
            HostError: another host run (alive) owns the state, or a dead run's state could
                not be cleaned up.
        """
        old = cls.load()
        if old is not None:
            if old.owner_pid != os.getpid() and _pid_alive(old.owner_pid):
                raise HostError(f"another vswap host run (pid {old.owner_pid}) is in progress "
                                f"({state_path()})")
            report = cleanup()
            if report.errors:
                raise HostError("a previous host run left the machine unclean and cleanup "
                                f"failed: {report.errors[0]}")
        host_dir().mkdir(parents=True, exist_ok=True)
        state = cls(os.getpid(), time.time())
        try:
            fd = os.open(state_path(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise HostError(f"another vswap host run started at the same time "
                            f"({state_path()})") from None
        os.close(fd)
        state.save()
        return state

    def save(self) -> None:
        """Write the journal atomically (temporary file, fsync, rename)."""
        path = state_path()
        tmp = path.with_suffix(".tmp")
        data = json.dumps({"format": "vswap-host-state", "owner_pid": self.owner_pid,
                           "started": self.started, "actions": self.actions}, indent=1)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Journal a change before making it; returns the action (for :meth:`done`)."""
        action = {"kind": kind, **fields}
        self.actions.append(action)
        self.save()
        return action

    def done(self, action: dict[str, Any]) -> None:
        """The change was undone by the run itself: drop it from the journal."""
        with contextlib.suppress(ValueError):
            self.actions.remove(action)
        self.save()


# -- reading the machine -------------------------------------------------------------------

def proc_swaps() -> dict[str, dict[str, Any]]:
    """``/proc/swaps`` by path: type, size and used in KiB, priority."""
    out: dict[str, dict[str, Any]] = {}
    try:
        lines = Path("/proc/swaps").read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) >= 5:
            path = parts[0].replace("\\040", " ")
            out[path] = {"type": parts[1], "size_kib": int(parts[2]),
                         "used_kib": int(parts[3]), "prio": int(parts[4])}
    return out


def libc_call(name: str, *args: Any) -> None:
    """Call a libc system-call wrapper; OSError with the errno on failure."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    fn = getattr(libc, name)
    if fn(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")


def _swapoff(path: str) -> None:
    libc_call("swapoff", path.encode())


def _umount(target: str) -> None:
    libc_call("umount2", target.encode(), 0)


def cgroup_tasks(path: Path) -> list[int]:
    try:
        return [int(x) for x in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def kill_cgroup_tasks(path: Path, timeout_s: float = 20.0) -> None:
    """SIGKILL every task of a cgroup until none is left.

    Raises:
        HostError: tasks were still there after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        pids = cgroup_tasks(path)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise HostError(f"{path}: tasks {pids[:5]} did not die")
        time.sleep(0.02)


# -- cleanup --------------------------------------------------------------------------------

@dataclass
class CleanupReport:
    """What :func:`cleanup` did and what it could not do."""

    undone: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _undo(action: dict[str, Any], step: str) -> str | None:
    """Undo one action at cleanup step ``step``; a description, or None if nothing to do.

    Raises:
        OSError, HostError: the change could not be undone.
    """
    kind = action["kind"]
    if step == "cgroup-tasks":
        if kind != "cgroup" or not Path(action["path"]).is_dir():
            return None
        kill_cgroup_tasks(Path(action["path"]))
        return f"killed the tasks of {action['path']}"
    if kind != step:
        return None
    if kind == "swapon":
        if action["path"] not in proc_swaps():
            return None
        _swapoff(action["path"])
        return f"swapoff {action['path']}"
    if kind == "zram":
        dev = Path("/sys/block") / action["device"]
        if not dev.is_dir() or (dev / "initstate").read_text().strip() == "0":
            return None
        (dev / "reset").write_text("1")
        return f"reset {action['device']}"
    if kind == "cgroup":
        path = Path(action["path"])
        if not path.is_dir():
            return None
        for _ in range(100):
            try:
                path.rmdir()
                break
            except OSError as exc:
                # EBUSY while the last task is still being reaped.
                if exc.errno != 16:
                    raise
                time.sleep(0.05)
        else:
            path.rmdir()
        return f"removed cgroup {path}"
    if kind == "subtree":
        (Path(action["path"]) / "cgroup.subtree_control").write_text(
            f"-{action['controller']}")
        return f"-{action['controller']} in {action['path']}"
    if kind == "file":
        path = Path(action["path"])
        if not path.exists():
            return None
        path.unlink()
        return f"removed {path}"
    if kind == "zswap":
        from vswap.host.zswapctl import restore_params

        restore_params(action["params"])
        return "restored zswap parameters " + ", ".join(
            f"{k}={v}" for k, v in action["params"].items())
    if kind == "mount":
        if not os.path.ismount(action["target"]):
            return None
        _umount(action["target"])
        return f"umount {action['target']}"
    raise HostError(f"host state: unknown action kind {kind!r}")


def cleanup(state: HostState | None = None) -> CleanupReport:
    """Undo every change a host run recorded (the current one, or the one on disk).

    Every action is tried even when an earlier one fails; the state file is removed only
    when all succeeded (so a second ``vswap host cleanup`` can retry what failed).
    """
    report = CleanupReport()
    if state is None:
        try:
            state = HostState.load()
        except HostError as exc:
            report.errors.append(str(exc))
            return report
    if state is None:
        _remove_empty_dir()
        return report
    failed: list[dict[str, Any]] = []
    for step in CLEANUP_ORDER:
        for action in list(state.actions):
            if action in failed:
                continue
            try:
                what = _undo(action, step)
            except (OSError, HostError) as exc:
                report.errors.append(f"{step} {action.get('path') or action.get('device') or ''}"
                                     f": {exc}".replace("  ", " "))
                failed.append(action)
                continue
            if what:
                report.undone.append(what)
    if failed:
        state.actions = failed
        state.save()
        return report
    with contextlib.suppress(FileNotFoundError):
        state_path().unlink()
    with contextlib.suppress(FileNotFoundError):
        state_path().with_suffix(".tmp").unlink()
    _remove_empty_dir()
    return report


def _remove_empty_dir() -> None:
    with contextlib.suppress(OSError):
        host_dir().rmdir()


def iter_recorded(state: HostState | None, kind: str) -> Iterator[dict[str, Any]]:
    if state is not None:
        yield from (a for a in state.actions if a["kind"] == kind)
