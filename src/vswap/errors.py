"""Bad user input: the one error type every layer, the engine included, may raise for it.

A base module (it imports nothing of the project), so ``sim/`` and ``kernel/`` can use it
without depending on each other. Kernel errors (errno values, :class:`KernelError`,
:class:`DataLossError`) are in :mod:`vswap.kernel.errors`.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad user input: a malformed config, size, trace or command line."""
