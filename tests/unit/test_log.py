"""vswap.log: the command line prints each ``vswap`` log record on stderr as one line.

(tests/conftest.py takes the handler off again after each test.)
"""

from __future__ import annotations

import logging

import pytest

from vswap.cli import main
from vswap.kernel.env import KernelEnv
from vswap.log import logger, setup_cli_logging


def test_cli_handler_prints_one_line_and_is_installed_once(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_cli_logging()
    setup_cli_logging()
    assert sum(not isinstance(h, logging.NullHandler) for h in logger.handlers) == 1
    logging.getLogger("vswap.host").warning("other swap devices:\n  /dev/sda2\n")
    logging.getLogger("vswap.host").info("not shown at the default level")
    assert capsys.readouterr().err == "vswap: warning: other swap devices: /dev/sda2\n"


def test_main_installs_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0  # main returns argparse's status (no SystemExit escapes)
    capsys.readouterr()
    KernelEnv().warn("seen through the CLI")
    assert capsys.readouterr().err == "vswap: warning: VM_WARN_ON: seen through the CLI\n"
