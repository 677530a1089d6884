"""Bad user input: the one error type every layer, the engine included, may raise for it.

A base module (it imports nothing of the project), so ``sim/`` and ``kernel/`` can use it
without depending on each other. Kernel errors (errno values, :class:`KernelError`,
:class:`DataLossError`) are in :mod:`vswap.kernel.errors`.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad user input: a malformed config, size, trace or command line."""


class InvalidArgumentError(ValueError):
    """A layer of the model was called with an argument outside its domain: a bug in the
    calling layer (a negative delay, an unknown op, an inconsistent table), not bad user
    input and not a kernel error path (those are :class:`ConfigError` and
    :class:`vswap.kernel.errors.KernelError`). A ``ValueError``, so callers that validate
    with ``except ValueError`` keep working."""


class OOMError(Exception):
    """A workload did not complete as asked: the model's kernel OOM-killed (or SIGBUS-killed)
    one of its tasks, or it could not start. The CLI prints ``vswap: OOM: ...`` and exits 4
    (docs/cli.md, "Exit statuses")."""
