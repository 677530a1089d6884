"""``vswap mkswap FILE --size SIZE``: make a swap area that the real ``swapon`` accepts.

Models: util-linux ``mkswap`` (disk-utils/mkswap.c), through
:func:`vswap.swap.swap_area.mkswap`; the summary lines are util-linux's.
"""

from __future__ import annotations

import argparse
import os
import uuid

from vswap.errors import ConfigError
from vswap.swap.swap_area import escape_label, mkswap, size_to_human_string
from vswap.units import parse_size


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``mkswap`` subcommand."""
    p = subparsers.add_parser(
        "mkswap", help="create a swap area file (kernel format, util-linux compatible)",
        description="Create FILE as a Linux swap area (version 1 header, SWAPSPACE2). "
                    "The new area is built beside FILE and renamed over it, so a failure "
                    "leaves FILE as it was; an existing FILE holding data is refused "
                    "unless --force. The area is sparse unless --allocate is given.")
    p.add_argument("file", metavar="FILE", help="the swap file to create or replace")
    p.add_argument("--size", required=True,
                   help="total size, header page included (e.g. 64M, 1G); whole 4 KiB "
                        "pages, at least 40K")
    p.add_argument("--label", "-L", default=None, help="volume label, at most 16 bytes")
    p.add_argument("--uuid", "-U", default=None, help="UUID (default: random)")
    p.add_argument("--allocate", action="store_true",
                   help="reserve every block (a real swapon refuses files with holes)")
    p.add_argument("--force", "-f", action="store_true",
                   help="replace a FILE that holds data (a swap signature, another "
                        "filesystem's signature, non-zero bytes); without it such a FILE "
                        "is left alone. Symbolic links and non-regular files are always "
                        "refused")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Create the area and print util-linux's two summary lines."""
    size = parse_size(args.size, what="--size")
    area_uuid = None
    if args.uuid is not None:
        try:
            area_uuid = uuid.UUID(args.uuid)
        except ValueError:
            raise ConfigError(f"--uuid: {args.uuid!r} is not a UUID") from None
    try:
        header = mkswap(args.file, size, label=args.label, uuid=area_uuid,
                        allocate=args.allocate, force=args.force)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except OSError as exc:
        # ETXTBSY (an active swap file), ENOSPC, EFBIG, ...: still one line, and the file
        # is as it was (the area was built beside it).
        raise ConfigError(f"{args.file}: {exc.strerror or os.strerror(exc.errno or 0)}; "
                          "the file was not changed") from None
    print(f"Setting up swapspace version {header.version}, size = "
          f"{size_to_human_string(header.size_bytes)} ({header.size_bytes} bytes)")
    # A label is the user's bytes: escaped, so it cannot forge an output line.
    label = f"LABEL={escape_label(header.label)}" if header.label else "no label"
    print(f"{label}, UUID={header.uuid}")
    return 0
