"""``vswap metadata``: swap metadata memory of each design at each swap usage.

A thin front end to :mod:`vswap.metadata.calculator`: parses sizes, usages, backends and
design names at the edge (bad input raises :class:`~vswap.errors.ConfigError` naming the
option), then prints a ``rich`` table per backend (usage rows, one column per design, MB with
two decimals as the v6 Virtual Swap Space cover letter prints them), or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from fractions import Fraction
from typing import Any

from rich.console import Console
from rich.table import Table

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.metadata.calculator import Cell, format_mib, metadata_table
from vswap.metadata.layouts import LAYOUTS, Backend
from vswap.units import format_size, parse_size

DEFAULT_USAGE = "0,25,50,75,100"


def register(subparsers: Any) -> None:
    """Add the ``metadata`` subcommand to the ``vswap`` parser."""
    p = subparsers.add_parser(
        "metadata", help="swap metadata memory per design and usage",
        description="Swap metadata memory of each design, from its declared structure sizes "
                    "(docs/metadata.md).")
    p.add_argument("--swap-size", default="32G",
                   help="swap device size, 4K..16T, e.g. 32G (binary suffixes; default 32G)")
    p.add_argument("--usage", default=DEFAULT_USAGE,
                   help=f"comma list of usage percentages 0..100, up to 6 decimals, at most "
                        f"101 of them (default {DEFAULT_USAGE})")
    p.add_argument("--backend", default="zswap,disk",
                   help="comma list of backends: zswap, disk (default both)")
    p.add_argument("--design", default="all",
                   help="comma list of designs, or 'all' (known: " + ", ".join(LAYOUTS) + ")")
    p.add_argument("--per-structure", action="store_true",
                   help="also break every cell down by structure")
    p.add_argument("--full", action="store_true",
                   help="also count structures the published tables leave out "
                        "(cluster headers, xa_node overhead, zswap_entry)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(func=run)


# --- parsing at the edge ----------------------------------------------------------------------

def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


#: The largest ``--swap-size``: a swap area has at most 2**32 pages (``last_page`` is a u32).
MAX_SWAP_SIZE = PAGE_SIZE << 32
#: At most this many ``--usage`` values (each is a row of every table).
MAX_USAGES = 101
#: A usage: a decimal percentage with at most 6 decimals (no exponent, no fraction), so
#: the exact value is a Fraction with a denominator of at most 10**8 whatever the text.
_USAGE_RE = re.compile(r"^(\d{1,3})(?:\.(\d{1,6}))?%?$")


def parse_swap_size(text: str) -> int:
    """``--swap-size``: a byte count of one page .. 16T (2**32 pages), floored to whole
    pages."""
    nbytes = parse_size(text, what="--swap-size")
    if nbytes < PAGE_SIZE:
        raise ConfigError(f"--swap-size: {text!r} is smaller than one page ({PAGE_SIZE} bytes)")
    if nbytes > MAX_SWAP_SIZE:
        raise ConfigError(f"--swap-size: {text!r} is more than a swap area can be "
                          f"({format_size(MAX_SWAP_SIZE)}: 2**32 pages)")
    return nbytes - nbytes % PAGE_SIZE


def parse_usages(text: str) -> list[Fraction]:
    """``--usage``: comma-separated percentages in 0..100 (up to 6 decimals, at most
    :data:`MAX_USAGES` of them)."""
    items = _split(text)
    if not items:
        raise ConfigError("--usage: no usage given (example: 0,25,50,75,100)")
    if len(items) > MAX_USAGES:
        raise ConfigError(f"--usage: {len(items)} usages, at most {MAX_USAGES}")
    usages = []
    for item in items:
        m = _USAGE_RE.match(item)
        if not m:
            raise ConfigError(f"--usage: {item[:24]!r} is not a percentage such as 50 or "
                              "12.5 (at most 6 decimals)")
        value = Fraction(int(m[1])) + (Fraction(int(m[2]), 10 ** len(m[2])) if m[2] else 0)
        if not 0 <= value <= 100:
            raise ConfigError(f"--usage: {item} is outside 0..100")
        usages.append(value)
    return usages


def parse_backends(text: str) -> list[Backend]:
    """``--backend``: comma-separated ``zswap`` / ``disk``."""
    items = _split(text)
    known = {b.value: b for b in Backend}
    if not items:
        raise ConfigError("--backend: no backend given (known: zswap, disk)")
    for item in items:
        if item not in known:
            raise ConfigError(f"--backend: unknown backend {item!r} (known: zswap, disk)")
    return list(dict.fromkeys(known[i] for i in items))


def parse_designs(text: str) -> list[str]:
    """``--design``: comma-separated layout names, or ``all``."""
    items = _split(text)
    if items == ["all"]:
        return list(LAYOUTS)
    if not items:
        raise ConfigError("--design: no design given")
    for item in items:
        if item not in LAYOUTS:
            raise ConfigError(f"--design: unknown design {item!r} "
                              f"(known: {', '.join(LAYOUTS)}, all)")
    return list(dict.fromkeys(items))


def _usage_label(usage: Fraction) -> str:
    return f"{float(usage):g}%"


# --- output -----------------------------------------------------------------------------------

def _to_json(swap_size: int, full: bool,
             tables: dict[Backend, dict[str, list[Cell]]]) -> dict[str, Any]:
    first = next(iter(next(iter(tables.values())).values()))
    return {
        "swap_size_bytes": swap_size,
        "nr_slots": first[0].geometry.nr_slots,
        "unit": "MiB",
        "full": full,
        "usage_percent": [float(c.usage) for c in first],
        "backends": {
            backend.value: {
                design: [{"usage_percent": float(c.usage),
                          "used_slots": c.geometry.used_slots,
                          "bytes": c.total_bytes,
                          "mib": round(c.mib, 2),
                          "structures": dict(c.structures)} for c in cells]
                for design, cells in table.items()}
            for backend, table in tables.items()},
    }


def _print_tables(console: Console, swap_size: int, full: bool, per_structure: bool,
                  tables: dict[Backend, dict[str, list[Cell]]]) -> None:
    for backend, table in tables.items():
        first = next(iter(table.values()))
        scope = "all structures" if full else "published accounting"
        # The heading goes on its own line: a table title would wrap to the table's width.
        console.print(f"swap metadata, {backend.value} backend, {format_size(swap_size)} = "
                      f"{first[0].geometry.nr_slots:,} slots, MB (MiB), {scope}",
                      soft_wrap=True, highlight=False)
        t = Table()
        t.add_column("usage", justify="right", no_wrap=True)
        for design in table:
            t.add_column(design, justify="right", no_wrap=True)
        for i, cell in enumerate(first):
            t.add_row(_usage_label(cell.usage),
                      *(format_mib(cells[i].total_bytes) for cells in table.values()))
        console.print(t)
        if not per_structure:
            continue
        for design, cells in table.items():
            d = Table(title=f"{design}, {backend.value} backend, per structure, MB (MiB)")
            d.add_column("structure", no_wrap=True)
            for cell in cells:
                d.add_column(_usage_label(cell.usage), justify="right", no_wrap=True)
            for j, (name, _) in enumerate(cells[0].structures):
                d.add_row(name, *(format_mib(c.structures[j][1]) for c in cells))
            d.add_row("total", *(format_mib(c.total_bytes) for c in cells), style="bold")
            console.print(d)


def run(args: argparse.Namespace) -> int:
    """Handler of ``vswap metadata``; returns the exit status.

    Raises:
        ConfigError: a bad ``--swap-size``, ``--usage``, ``--backend`` or ``--design``.
    """
    swap_size = parse_swap_size(args.swap_size)
    usages = parse_usages(args.usage)
    backends = parse_backends(args.backend)
    designs = parse_designs(args.design)
    tables = {b: metadata_table(designs, b, swap_size, usages, full=args.full)
              for b in backends}
    if args.json:
        sys.stdout.write(json.dumps(_to_json(swap_size, args.full, tables), indent=2) + "\n")
        return 0
    # Console bound to the current sys.stdout (so redirection and capture work); a fixed
    # width off a terminal keeps seven design columns from being squeezed.
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)
    _print_tables(console, swap_size, args.full, args.per_structure, tables)
    return 0
