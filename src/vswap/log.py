"""Diagnostics: the ``vswap`` logger and the command line's one-line stderr handler.

Not a kernel file. Every diagnostic of the project goes through the standard ``logging``
module under the ``vswap`` logger (modules log to ``logging.getLogger(__name__)``, a child
of it). There is one warning path per kind of warning:

- what the kernel reports with ``VM_WARN_ON()`` / ``WARN_ON_ONCE()`` goes through
  :meth:`vswap.kernel.env.KernelEnv.warn`, which counts every hit (results report the
  counts) and logs the first hit of each message here;
- everything else (a host run's surprise, a tool's notice) is ``logger.warning(...)``.

As a library the logger is silent (``import vswap`` gives it a ``NullHandler``, so Python's
last-resort handler does not print); the ``vswap`` command installs
:func:`setup_cli_logging`, which prints each record on stderr as one line,
``vswap: warning: <message>``. Tests read records with pytest's
``caplog`` (records propagate to the root logger).

A base module: it imports nothing of the project, so ``sim/`` and ``kernel/`` may use it.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["LOGGER_NAME", "logger", "setup_cli_logging"]

#: Name of the project's root logger.
LOGGER_NAME = "vswap"

#: The project's root logger (``vswap/__init__.py`` gives it its NullHandler).
logger = logging.getLogger(LOGGER_NAME)


class _OneLineStderr(logging.Handler):
    """Writes each record to the *current* ``sys.stderr`` as one line.

    Looked up at each record, not bound once, so a handler installed by one ``main()`` call
    keeps writing where the caller's stderr is now (pytest's capture swaps it per test).
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = " ".join(self.format(record).split())
            sys.stderr.write(f"vswap: {record.levelname.lower()}: {text}\n")
        except Exception:
            self.handleError(record)


def setup_cli_logging(level: int = logging.WARNING) -> None:
    """Show ``vswap`` records of ``level`` and above on stderr, one line each.

    Idempotent: calling it again (``main()`` run twice in one process) adjusts the level
    and installs no second handler.
    """
    logger.setLevel(level)
    if not any(isinstance(h, _OneLineStderr) for h in logger.handlers):
        logger.addHandler(_OneLineStderr())
