"""A memory cgroup on the host: cgroup v2 where a memory controller is mounted, else v1.

Models: nothing; it drives the real kernel's cgroupfs. The workload's limits are given in
v2 names (``memory.max``, ``memory.swap.max``) and mapped to v1 files where only v1 has a
memory controller (mm/memcontrol-v1.c):

======================  ==========================================  =====================
v2 knob                 v1 file                                     note
======================  ==========================================  =====================
``memory.max``          ``memory.limit_in_bytes``                   ``max`` is ``-1``
``memory.swap.max``     ``memory.memsw.limit_in_bytes``             memory + swap, so the
                                                                    v1 value is
                                                                    ``memory.max`` plus it
``memory.current``      ``memory.usage_in_bytes``                   read
``memory.peak``         ``memory.max_usage_in_bytes``               read
``memory.swap.current`` ``memsw.usage_in_bytes - usage_in_bytes``   read
``memory.events``       ``oom_kill`` of ``memory.oom_control``,     read
                        ``max`` from ``memory.failcnt``
======================  ==========================================  =====================

v1's kernel-memory counters have no v2 file and are kept under their v1 names:
``memory.kmem.usage_in_bytes`` and ``memory.kmem.max_usage_in_bytes`` (kmem is also in
``memory.usage_in_bytes`` since v5.x). :meth:`HostCgroup.usage` is what the run's sampler
reads for the peaks it records (``kernel_stats.host.cgroup_peaks``).

v2-only knobs (``memory.high``, ``memory.low``, ``memory.min``, ``memory.zswap.max``,
``memory.zswap.writeback``) have no v1 file: asking for one on a v1 host is refused.
``memory.stat`` is kept as the kernel prints it, with the version in the result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vswap.host.state import HostError, HostState, cgroup_tasks

__all__ = ["HostCgroup", "find_memory_hierarchy"]

_V2_ONLY = ("memory.high", "memory.low", "memory.min", "memory.zswap.max",
            "memory.zswap.writeback")


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, options) of every mount."""
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4:
            out.append((parts[1].replace("\\040", " "), parts[2], parts[3]))
    return out


def find_memory_hierarchy() -> tuple[int, Path]:
    """(version, mount point) of the hierarchy that has the memory controller.

    Raises:
        HostError: no cgroup hierarchy has it.
    """
    for mnt, fstype, _ in _mounts():
        if fstype == "cgroup2":
            ctrl = Path(mnt) / "cgroup.controllers"
            if ctrl.exists() and "memory" in ctrl.read_text().split():
                return 2, Path(mnt)
    for mnt, fstype, opts in _mounts():
        if fstype == "cgroup" and "memory" in opts.split(","):
            return 1, Path(mnt)
    raise HostError("no cgroup hierarchy with the memory controller is mounted")


def _parse_kv(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


@dataclass
class HostCgroup:
    """One cgroup created by a host run (journalled in its state)."""

    version: int
    path: Path

    @classmethod
    def create(cls, state: HostState, name: str) -> HostCgroup:
        """mkdir a cgroup ``name`` under the memory hierarchy's root.

        Raises:
            HostError: no memory controller, or the directory cannot be made.
        """
        version, root = find_memory_hierarchy()
        if version == 2:
            sub = (root / "cgroup.subtree_control").read_text().split()
            if "memory" not in sub:
                state.record("subtree", path=str(root), controller="memory")
                (root / "cgroup.subtree_control").write_text("+memory")
        path = root / name
        state.record("cgroup", path=str(path))
        try:
            path.mkdir()
        except OSError as exc:
            raise HostError(f"mkdir {path}: {exc.strerror}") from None
        return cls(version, path)

    # -- knobs --------------------------------------------------------------------------------
    def _write(self, name: str, value: str) -> None:
        try:
            (self.path / name).write_text(value)
        except OSError as exc:
            raise HostError(f"{self.path / name} = {value}: {exc.strerror}") from None

    def set_limits(self, memory_max: int | None, swap_max: int | None = None) -> None:
        """``memory.max`` and ``memory.swap.max`` (None: ``max``), mapped for v1."""
        if self.version == 2:
            self._write("memory.max", "max" if memory_max is None else str(memory_max))
            if swap_max is not None:
                self._write("memory.swap.max", str(swap_max))
            return
        self._write("memory.limit_in_bytes", "-1" if memory_max is None else str(memory_max))
        if swap_max is not None:
            if memory_max is None:
                raise HostError("memory.swap.max on cgroup v1 needs memory.max "
                                "(memory.memsw.limit_in_bytes is memory plus swap)")
            self._write("memory.memsw.limit_in_bytes", str(memory_max + swap_max))

    def set_knob(self, name: str, value: str) -> None:
        """Any other v2 knob: written as is on v2, refused on v1 if it has no v1 file.

        Raises:
            HostError: a v2-only knob on a v1 host, or the kernel refused the value.
        """
        if self.version == 1 and name in _V2_ONLY:
            raise HostError(f"{name} has no cgroup v1 equivalent (this host's memory "
                            "controller is on cgroup v1)")
        if name == "memory.max":
            self.set_limits(None if value == "max" else int(value))
            return
        self._write(name, value)

    # -- reading ---------------------------------------------------------------------------
    def tasks(self) -> list[int]:
        return cgroup_tasks(self.path)

    def read(self, name: str) -> str:
        return (self.path / name).read_text()

    def stat(self) -> dict[str, int]:
        """``memory.stat`` as the kernel prints it (v1 and v2 names differ)."""
        return _parse_kv(self.read("memory.stat"))

    def files(self) -> dict[str, Any]:
        """The cgroup's memory files in v2 names (mapped on v1, see the module docstring)."""
        if self.version == 2:
            out: dict[str, Any] = {}
            for name in ("memory.current", "memory.peak", "memory.swap.current",
                         "memory.swap.peak", "memory.zswap.current", "memory.max"):
                p = self.path / name
                if p.exists():
                    text = p.read_text().strip()
                    out[name] = int(text) if text.isdigit() else text
            out["memory.stat"] = self.stat()
            out["memory.events"] = _parse_kv(self.read("memory.events"))
            return out
        usage = int(self.read("memory.usage_in_bytes"))
        out = {"memory.current": usage,
               "memory.peak": int(self.read("memory.max_usage_in_bytes")),
               "memory.max": int(self.read("memory.limit_in_bytes"))}
        memsw = self.path / "memory.memsw.usage_in_bytes"
        if memsw.exists():
            out["memory.swap.current"] = max(int(memsw.read_text()) - usage, 0)
        for name in ("memory.kmem.usage_in_bytes", "memory.kmem.max_usage_in_bytes"):
            p = self.path / name
            if p.exists():
                out[name] = int(p.read_text())
        oom = _parse_kv(self.read("memory.oom_control"))
        out["memory.stat"] = self.stat()
        out["memory.events"] = {"max": int(self.read("memory.failcnt")),
                                "oom_kill": oom.get("oom_kill", 0)}
        return out

    def usage(self) -> dict[str, int]:
        """The usage counters the sampler follows: ``memory.current`` (v1:
        ``memory.usage_in_bytes``), and ``memory.zswap.current`` (v2) or
        ``memory.kmem.usage_in_bytes`` (v1) where the file exists; a file that cannot be
        read (the cgroup going away) is left out."""
        names = (("memory.current", "memory.current"),
                 ("memory.zswap.current", "memory.zswap.current")) if self.version == 2 else (
            ("memory.current", "memory.usage_in_bytes"),
            ("memory.kmem.usage_in_bytes", "memory.kmem.usage_in_bytes"))
        out: dict[str, int] = {}
        for key, name in names:
            try:
                out[key] = int((self.path / name).read_text())
            except (OSError, ValueError):
                continue
        return out

    def procs_file(self) -> str:
        """The file a task writes its pid to, to join the cgroup."""
        return str(self.path / "cgroup.procs")

    def join(self, pid: int | None = None) -> None:
        """Move ``pid`` (default: the calling process) into the cgroup."""
        (self.path / "cgroup.procs").write_text(str(pid if pid is not None else os.getpid()))
