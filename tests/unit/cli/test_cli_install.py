"""A first run is quiet: pyproject.toml configures the build backend without a warning,
bin/_venv.sh shows pip's output only when the install fails, and commands that do not plot
never import matplotlib."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def test_pyproject_configures_setuptools_without_warnings() -> None:
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the deprecated license table warned ~60 lines
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert dist.get_name() == "vswap"


def test_the_build_backend_is_pinned_to_the_tested_version() -> None:
    import setuptools

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (req,) = data["build-system"]["requires"]
    assert req == f"setuptools=={setuptools.__version__}"
    assert req in data["project"]["optional-dependencies"]["test"]
    assert data["project"]["license"] == "GPL-2.0-only"


def _fake_root(tmp_path: Path, pip_rc: int) -> Path:
    """A project root whose .venv python is a stub that chatters like pip and exits
    ``pip_rc``."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "_venv.sh").write_text((ROOT / "bin" / "_venv.sh").read_text())
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    py = tmp_path / ".venv" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text("#!/bin/sh\necho 'BuildBackendWarning: license table' >&2\n"
                  f"echo 'Successfully installed'\nexit {pip_rc}\n")
    py.chmod(0o755)
    return tmp_path


def _source(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VSWAP_EXTRAS"}
    return subprocess.run(["bash", "-c", f"source {root}/bin/_venv.sh && echo ready"],
                          capture_output=True, text=True, env=env, check=False)


def test_venv_install_prints_one_line(tmp_path: Path) -> None:
    root = _fake_root(tmp_path, 0)
    first = _source(root)
    assert first.returncode == 0 and first.stdout == "ready\n"
    assert first.stderr.count("\n") == 1 and first.stderr.startswith("vswap: installing into")
    assert "BuildBackendWarning" in (root / ".venv" / "install.log").read_text()
    again = _source(root)
    assert (again.returncode, again.stdout, again.stderr) == (0, "ready\n", ""), \
        "installed: nothing to say"


def test_venv_install_failure_shows_the_log(tmp_path: Path) -> None:
    failed = _source(_fake_root(tmp_path, 1))
    assert failed.returncode == 1 and "ready" not in failed.stdout
    assert "BuildBackendWarning: license table" in failed.stderr
    assert failed.stderr.rstrip().endswith("install.log)")


@pytest.mark.parametrize("argv", [["--help"], ["stat", "--help"], ["metadata", "--json"],
                                  ["run", "--workload", "usemem -n 1 1M", "--swap-device",
                                   "mem:4M", "--memory-max", "512K"]])
def test_commands_that_do_not_plot_never_import_matplotlib(argv: list[str]) -> None:
    code = ("import sys\nfrom vswap.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print('matplotlib' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.splitlines()[-1] == "False"
