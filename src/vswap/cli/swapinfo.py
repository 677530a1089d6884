"""``vswap swapinfo FILE [--json]``: decode and validate a swap area's header page.

Models: what ``swapon`` reads from page 0 (``read_swap_header()``, mm/swapfile.c), shown
the way ``file`` and ``blkid`` show it. The area is read as a block-device image would be,
so a header listing bad pages is shown rather than refused.
"""

from __future__ import annotations

import argparse
import json

from vswap.swap.swap_area import (
    SwapHeader,
    escape_label,
    size_to_human_string,
    swap_header_from_file,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``swapinfo`` subcommand."""
    p = subparsers.add_parser("swapinfo", help="show the header of a swap area file",
                              description="Validate FILE as swapon would and print its "
                                          "swap header fields.")
    p.add_argument("file", metavar="FILE", help="a swap area (file or device image)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def header_to_dict(header: SwapHeader, file: str) -> dict[str, object]:
    """The fields printed by ``--json``."""
    return {
        "file": file,
        "version": header.version,
        "last_page": header.last_page,
        "nr_pages": header.nr_pages,
        "size_bytes": header.size_bytes,
        "nr_badpages": header.nr_badpages,
        "bad_pages": list(header.bad_pages),
        "nr_good_pages": header.nr_good_pages,
        "uuid": str(header.uuid),
        "label": header.label or None,
        "byteswapped": header.byteswapped,
    }


def run(args: argparse.Namespace) -> int:
    """Print the header, or fail with one line (exit 2) if FILE is not a swap area."""
    header = swap_header_from_file(args.file, block_device=True)
    if args.json:
        print(json.dumps(header_to_dict(header, args.file)))
        return 0
    # A label is raw bytes: escaped, so an odd one is neither a traceback nor a forged line.
    label = escape_label(header.label)
    bad = " ".join(map(str, header.bad_pages)) or "none"
    rows = [
        ("file", escape_label(args.file)),
        ("version", f"{header.version}"
                    f"{' (byte-swapped header)' if header.byteswapped else ''}"),
        ("last_page", str(header.last_page)),
        ("size", f"{size_to_human_string(header.size_bytes)} ({header.size_bytes} bytes, "
                 f"{header.last_page} pages after the header)"),
        ("nr_badpages", str(header.nr_badpages)),
        ("bad_pages", bad),
        ("UUID", str(header.uuid)),
        ("label", label or "(none)"),
    ]
    for key, value in rows:
        print(f"{key + ':':<13}{value}")
    return 0
