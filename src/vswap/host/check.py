"""``vswap host check``: is anything of a host run left on this machine?

Models: nothing. Clean means: no state file (no run in progress and none killed before it
cleaned up), no swap device or file of a host run in ``/proc/swaps``, no cgroup named
``vswap-host-*`` in any memory hierarchy, no file left in the host directory, and no zram
device or debugfs mount a run set up. The zswap parameters, ``/proc/swaps`` and every zram
device's state are printed as found, so a user can compare them with what they expect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vswap.host.state import HostError, HostState, host_dir, proc_swaps, state_path
from vswap.host.zswapctl import available, read_params

__all__ = ["MachineCheck", "check_machine"]


@dataclass
class MachineCheck:
    """What :func:`check_machine` found: ``problems`` is empty when the machine is clean."""

    problems: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.problems


def _vswap_cgroups() -> list[str]:
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
            root = Path(parts[1])
            if parts[2] == "cgroup" and "memory" not in parts[3].split(","):
                continue
            found += [str(p) for p in root.glob("vswap-host-*") if p.is_dir()]
    return sorted(found)


def check_machine() -> MachineCheck:
    """Look for leftovers of host runs (see the module docstring)."""
    out = MachineCheck()
    try:
        state = HostState.load()
    except HostError as exc:
        out.problems.append(str(exc))
        state = None
    if state is not None:
        alive = False
        try:
            os.kill(state.owner_pid, 0)
            alive = True
        except ProcessLookupError:
            pass
        except PermissionError:
            alive = True
        what = "in progress" if alive else "was killed before it cleaned up"
        out.problems.append(f"host run pid {state.owner_pid} {what}: {len(state.actions)} "
                            f"recorded change(s) in {state_path()}"
                            + ("" if alive else "; run `vswap host cleanup`"))
    swaps = proc_swaps()
    hd = str(host_dir())
    recorded = {a.get("path") for a in (state.actions if state else [])}
    for path in swaps:
        if path.startswith(hd + "/") or path in recorded:
            out.problems.append(f"swap {path} of a host run is on")
    for cg in _vswap_cgroups():
        out.problems.append(f"cgroup {cg} of a host run exists")
    if Path(hd).is_dir():
        left = sorted(p.name for p in Path(hd).iterdir() if p.name != "state.json")
        if left:
            out.problems.append(f"files left in {hd}: {', '.join(left)}")
    if state is not None:
        for a in state.actions:
            if a["kind"] == "zram":
                init = Path("/sys/block") / a["device"] / "initstate"
                if init.exists() and init.read_text().strip() != "0":
                    out.problems.append(f"{a['device']} set up by a host run is not reset")
            if a["kind"] == "mount" and os.path.ismount(a["target"]):
                out.problems.append(f"{a['target']} mounted by a host run")
    out.info["swaps"] = {p: f"{r['type']} used {r['used_kib']} KiB of {r['size_kib']} KiB"
                         for p, r in swaps.items()}
    out.info["zswap"] = read_params() if available() else "not built"
    zram = {}
    for dev in sorted(Path("/sys/block").glob("zram*")):
        init = (dev / "initstate").read_text().strip()
        zram[dev.name] = "reset (initstate 0)" if init == "0" else \
            f"initialised, disksize {(dev / 'disksize').read_text().strip()}"
    out.info["zram"] = zram
    return out
