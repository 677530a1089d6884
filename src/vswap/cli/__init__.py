"""The ``vswap`` command line: a thin layer that parses arguments and calls the library.

Each subcommand lives in its own module of this package and defines
``register(subparsers) -> None``; the module is found automatically, so adding a command
never touches this file. A subcommand's handler returns the exit status.

Bad input (a size that does not parse, a missing file, an unknown design) ends with one line
on stderr, ``vswap: error: <what is wrong>``, and exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from vswap import __version__
from vswap.errors import ConfigError
from vswap.kernel.errors import DataLossError, KernelError
from vswap.log import setup_cli_logging
from vswap.mm.checks import LeakError


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
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ConfigError, KernelError, FileNotFoundError, IsADirectoryError,
            PermissionError) as exc:
        sys.stderr.write(f"vswap: error: {_one_line(exc)}\n")
        return 2
    except DataLossError as exc:
        sys.stderr.write(f"vswap: DATA LOSS: {_one_line(exc)}\n")
        return 3
    except LeakError as exc:
        sys.stderr.write(f"vswap: LEAK: {_one_line(exc)}\n")
        return 3
    except KeyboardInterrupt:
        sys.stderr.write("vswap: interrupted\n")
        return 130


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return _printable(f"{exc.filename}: {exc.strerror}")
    return _printable(" ".join(str(exc).split()))


def _printable(text: str) -> str:
    """Escape characters that are not printable (a line break in a user's argument would
    split the one-line error)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
