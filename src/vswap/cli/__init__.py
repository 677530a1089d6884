"""The ``vswap`` command line: a thin layer that parses arguments and calls the library.

Each subcommand lives in its own module of this package and defines
``register(subparsers) -> None``; the module is found automatically, so adding a command
never touches this file. A subcommand's handler returns the exit status.

:func:`main` is the one error boundary of every subcommand. Bad input (a size that does not
parse, a missing or unwritable file, an unknown design, an impossible request) ends with one
line on stderr, ``vswap: error: <input>: <what is wrong>``, and exit status 2; never a
traceback. The exit statuses (docs/cli.md, "Exit statuses"):

== =====================================================================================
0  every workload completed as asked (and nothing was lost)
1  a check failed that is neither loss nor leak (``soak``: a broken invariant or a task
   killed without cause; ``host check``: the machine is not clean)
2  bad input, or an OS error on a file the command reads or writes
3  data loss (a page read back wrong or missing) or a leak (``vswap: DATA LOSS:``,
   ``vswap: LEAK:``)
4  a workload was OOM-killed or could not start (``vswap: OOM: ...``)
130 interrupted (Ctrl-C)
== =====================================================================================
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
from collections.abc import Sequence

from vswap import __version__
from vswap.errors import ConfigError, OOMError
from vswap.kernel.errors import DataLossError, KernelError
from vswap.log import setup_cli_logging
from vswap.mm.checks import LeakError

#: Exit statuses (the table in the module docstring and docs/cli.md).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOSS, EXIT_OOM = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage; one line naming the problem is what we promise.
        sys.stderr.write(f"vswap: error: {_printable(message)}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand module of this package registered."""
    parser = _Parser(prog="vswap", description="Model Linux swap: classic vs virtual swap space.")
    parser.add_argument("--version", action="version", version=f"vswap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vswap`` console command."""
    setup_cli_logging()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a usage error (one line already printed), --help, --version
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        return _reader_gone()
    except (ConfigError, KernelError, OSError) as exc:
        sys.stderr.write(f"vswap: error: {_one_line(exc)}\n")
        return 2
    except OOMError as exc:
        sys.stderr.write(f"vswap: OOM: {_one_line(exc)}\n")
        return EXIT_OOM
    except DataLossError as exc:
        sys.stderr.write(f"vswap: DATA LOSS: {_one_line(exc)}\n")
        return EXIT_LOSS
    except LeakError as exc:
        sys.stderr.write(f"vswap: LEAK: {_one_line(exc)}\n")
        return EXIT_LOSS
    except KeyboardInterrupt:
        sys.stderr.write("vswap: interrupted\n")
        return 130


def _reader_gone() -> int:
    """stdout's reader went away (``vswap ... | head``): stop quietly, as a command killed
    by SIGPIPE does, with the shell's status for that (128 + 13). stdout is pointed at
    /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (tests capture it): nothing to redirect
        pass
    return 128 + signal.SIGPIPE


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else f"{exc.filename}"
        return _printable(f"{where}: {exc.strerror}")
    return _printable(" ".join(str(exc).split()))


def _printable(text: str) -> str:
    """Escape characters that are not printable (a line break in a user's argument would
    split the one-line error)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
