"""Human size parsing at the edges (command line, config): ``4096``, ``64K``, ``1G``, ``2g``.

Suffixes are binary, as the kernel's ``memparse`` and util-linux take them:
K = 2**10, M = 2**20, G = 2**30, T = 2**40, P = 2**50 (case-insensitive, optional
trailing ``B`` or ``iB``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from vswap.errors import ConfigError

_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE_RE = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)
#: The largest size accepted anywhere (bytes): 2**63 - 1, an ``s64`` as the kernel's
#: ``memparse`` callers store it. Callers check their own, smaller, ranges.
MAX_SIZE = (1 << 63) - 1
#: Longer size texts are refused before any arithmetic (no parser work grows with input).
_MAX_SIZE_TEXT = 64

#: The range of every ``--seed`` and a config's ``seed``: a 32-bit unsigned value.
SEED_RANGE = (0, (1 << 32) - 1)


def parse_size(text: str, *, what: str = "size") -> int:
    """Parse ``text`` as a byte count with an optional binary suffix.

    Raises:
        ConfigError: the text is not a non-negative size (names ``what`` and the text).
    """
    text = str(text)
    if len(text) > _MAX_SIZE_TEXT:
        raise ConfigError(f"{what}: {text[:20]!r}... ({len(text)} characters) is too long "
                          "to be a size (at most 2**63 - 1 bytes)")
    m = _SIZE_RE.match(text)
    if not m:
        raise ConfigError(f"{what}: cannot parse {text!r} as a size (examples: 4096, 64K, 1G)")
    whole, frac, suffix = m.groups()
    frac = frac or ""
    # Exact integer arithmetic: a float would round 2**53 + 1 and overflow past 1e308.
    denominator: int = 10 ** len(frac)
    scaled = (int(whole) * denominator + int(frac or 0)) * _SUFFIX[suffix.lower()]
    value, rem = divmod(scaled, denominator)
    if rem:
        raise ConfigError(f"{what}: {text!r} is not a whole number of bytes")
    if value > MAX_SIZE:
        raise ConfigError(f"{what}: {text!r} is too large (at most 2**63 - 1 bytes)")
    return value


def parse_seed(text: str | int, *, what: str = "--seed") -> int:
    """A random seed: a whole number in :data:`SEED_RANGE` (0 .. 2**32 - 1), the same range
    for every command and the config's ``seed``.

    Raises:
        ConfigError: not a whole number, or out of range (names ``what``).
    """
    lo, hi = SEED_RANGE
    if isinstance(text, bool):
        raise ConfigError(f"{what}: {text!r} is not a whole number")
    if isinstance(text, int):
        value = text
    else:
        t = str(text).strip()
        if len(t) > 20 or not t.lstrip("+-").isdigit() or not t.isascii():
            raise ConfigError(f"{what}: {t[:24]!r} is not a whole number in {lo}..{hi}")
        value = int(t)
    if not lo <= value <= hi:
        raise ConfigError(f"{what}: {value} is outside {lo}..{hi}")
    return value


def bounded_int(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number in ``lo..hi``; argparse prefixes the option name
    to the message (``vswap: error: argument --cpus: 0 is outside 1..4096``).

    A number text longer than 20 characters is refused before it is converted, so no
    count can be made to allocate or loop for ever."""
    def parse(text: str) -> int:
        t = str(text).strip()
        if len(t) > 20 or not t.isascii() or not t.lstrip("+-").isdigit():
            raise argparse.ArgumentTypeError(f"{t[:24]!r} is not a whole number in {lo}..{hi}")
        value = int(t)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is outside {lo}..{hi}")
        return value
    return parse


#: The argparse ``type`` of every ``--seed``.
seed_arg = bounded_int(*SEED_RANGE)


def format_size(nbytes: int) -> str:
    """Format a byte count the short way (``64M``, ``1G``, ``4K``, ``1000``)."""
    for suffix, mult in (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20),
                         ("K", 1 << 10)):
        if nbytes and nbytes % mult == 0:
            return f"{nbytes // mult}{suffix}"
    return str(nbytes)


#: The range every ``scale`` must lie in (a config file's ``scale``, ``--scale``).
SCALE_RANGE = (0.0, 1024.0)


def parse_scale(text: str | float, *, what: str = "--scale") -> float:
    """A size factor: a number (``0.01``, ``2``) or a fraction (``1/64``, as the help prints
    the defaults), in (0, 1024].

    Raises:
        ConfigError: not a number or fraction, or outside (0, 1024] (names ``what``).
    """
    if isinstance(text, bool):
        raise ConfigError(f"{what}: {text!r} is not a number")
    if isinstance(text, int | float):
        value = float(text)
    else:
        if len(str(text)) > 40:
            raise ConfigError(f"{what}: {str(text)[:20]!r}... is not a number or a fraction "
                              "such as 1/64")
        num, sep, den = str(text).strip().partition("/")
        try:
            value = float(num) / float(den) if sep else float(num)
        except ValueError:
            raise ConfigError(f"{what}: {text!r} is not a number or a fraction such as "
                              "1/64") from None
        except ZeroDivisionError:
            raise ConfigError(f"{what}: {text!r} divides by zero") from None
    lo, hi = SCALE_RANGE
    if not lo < value <= hi:  # also refuses NaN
        raise ConfigError(f"{what}: {text} is outside ({lo:g}, {hi:g}]")
    return value


def format_scale(scale: float) -> str:
    """A scale as a person writes it: ``0.01``, ``0.25``, ``2`` when short and exact, else
    ``1/128`` for the reciprocal of a whole number (``0.0078125``), else ``%g``."""
    text = f"{scale:g}"
    if len(text) <= 6 and "e" not in text and float(text) == scale:
        return text
    if 0 < scale < 1:
        inv = 1 / scale
        if abs(inv - round(inv)) < 1e-9 * inv:
            return f"1/{round(inv)}"
    return text
