"""KernelEnv.warn, the one path of VM_WARN_ON-style warnings: it counts every hit, logs a
message's first hit, and raises under debug_vm."""

from __future__ import annotations

import logging

import pytest

from vswap.kernel.env import KernelEnv


def test_warn_counts_every_hit_and_logs_the_first(caplog: pytest.LogCaptureFixture) -> None:
    env = KernelEnv()
    with caplog.at_level(logging.WARNING, logger="vswap"):
        env.warn("vswap_free: a folio is still in the swap cache")
        env.warn("vswap_free: a folio is still in the swap cache")
        env.warn("put_swap_folio: folio not locked")
    assert env.warnings == {"vswap_free: a folio is still in the swap cache": 2,
                            "put_swap_folio: folio not locked": 1}
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("vswap.kernel.env", "WARNING",
         "VM_WARN_ON: vswap_free: a folio is still in the swap cache"),
        ("vswap.kernel.env", "WARNING", "VM_WARN_ON: put_swap_folio: folio not locked")]


def test_warn_raises_under_debug_vm(caplog: pytest.LogCaptureFixture) -> None:
    env = KernelEnv(debug_vm=True)
    with caplog.at_level(logging.WARNING, logger="vswap"), \
            pytest.raises(AssertionError, match="VM_WARN_ON: x"):
        env.warn("x")
    assert env.warnings == {"x": 1}
    assert caplog.records == []


def test_library_use_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    KernelEnv().warn("silent without the CLI's handler")
    assert capsys.readouterr().err == ""
