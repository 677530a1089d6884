"""Kernel error numbers and the exceptions that carry them.

Models: the errno values of include/uapi/asm-generic/errno-base.h that the swap paths use.
The kernel returns ``-errno`` from most swap functions. The model keeps that convention
where the kernel uses an errno as an ordinary result (``swapcache_prepare`` returning
``-EEXIST`` during a swap-in race is routine), and raises :class:`KernelError` where the
caller broke a rule (freeing an entry twice, swapoff of an unknown device, an impossible
size). Every exception names the errno, so a failing test or command line says exactly
which kernel error path was taken. Bad user input is :class:`vswap.errors.ConfigError`.
"""

from __future__ import annotations

import enum


class Errno(enum.IntEnum):
    """The errno values the swap paths use (Linux asm-generic/errno-base.h numbering)."""

    EPERM = 1
    ENOENT = 2
    EINTR = 4
    EIO = 5
    E2BIG = 7
    EBADF = 9
    EAGAIN = 11
    ENOMEM = 12
    EACCES = 13
    EFAULT = 14
    EBUSY = 16
    EEXIST = 17
    ENODEV = 19
    EINVAL = 22
    EFBIG = 27
    ENOSPC = 28
    ERANGE = 34
    EDEADLK = 35
    ENOSYS = 38
    ENOTSUP = 95


class KernelError(Exception):
    """An operation failed the way the kernel would fail it.

    ``errno`` is the :class:`Errno`; ``str(exc)`` reads ``"EEXIST: <what happened>"``.
    """

    def __init__(self, errno: Errno, message: str) -> None:
        super().__init__(f"{errno.name}: {message}")
        self.errno = errno
        self.detail = message


class DataLossError(Exception):
    """A page read back differs from what was written to it: the model lost data."""
