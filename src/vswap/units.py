"""Human size parsing at the edges (command line, config): ``4096``, ``64K``, ``1G``, ``2g``.

Suffixes are binary, as the kernel's ``memparse`` and util-linux take them:
K = 2**10, M = 2**20, G = 2**30, T = 2**40, P = 2**50 (case-insensitive, optional
trailing ``B`` or ``iB``).
"""

from __future__ import annotations

import re

from vswap.errors import ConfigError

_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str, *, what: str = "size") -> int:
    """Parse ``text`` as a byte count with an optional binary suffix.

    Raises:
        ConfigError: the text is not a non-negative size (names ``what`` and the text).
    """
    m = _SIZE_RE.match(str(text))
    if not m:
        raise ConfigError(f"{what}: cannot parse {text!r} as a size (examples: 4096, 64K, 1G)")
    number, suffix = m.groups()
    value = float(number) * _SUFFIX[suffix.lower()]
    if value != int(value):
        raise ConfigError(f"{what}: {text!r} is not a whole number of bytes")
    return int(value)


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
