"""A small, safe expression language over a sweep's columns (``--where``, ``[sweep] where``).

Nothing is evaluated as Python: the text is tokenised and parsed here into a tree of
comparisons and boolean operators, and the tree is evaluated against one row (a dict of
column -> value). Grammar, loosest binding first::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := value [("==" | "=" | "!=" | "<" | "<=" | ">" | ">=") value
                      | ["not"] "in" "[" value ("," value)* "]"]
    value   := NAME | STRING | NUMBER | "true" | "false" | "(" expr ")"

* ``NAME``: a column, bare (``design``, ``zswap.compressor``, ``memory.max``, ``-n``,
  ``devices[0].peak_used_pages``) or in backquotes for any spelling
  (`` `cgroups."/app".memory.max` ``). A name is a whole column name or its last
  dot-separated parts (``memory.max`` is ``cgroups."/app".memory.max`` if no other column
  ends so); :func:`resolve_name` says which and refuses unknown or ambiguous names.
* ``STRING``: ``'lz4'`` or ``"lz4"``. ``NUMBER``: ``3``, ``-1``, ``0.5``, and sizes with a
  binary suffix, ``16M`` (bytes).
* Comparisons of a number with a size string compare bytes (``memory.max < 16M`` is true of
  ``"8M"``); ``"max"`` is larger than every size, as the kernel's ``max`` is. A comparison
  with a missing value (a failed point's metrics) is false, so is an order comparison of a
  number with a string that is not a size.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vswap.errors import ConfigError
from vswap.units import parse_size

__all__ = ["Expr", "compile_expr", "resolve_name"]

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<op>==|!=|<=|>=|=|<|>|\(|\)|\[|\]|,)
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<quoted>`[^`]+`)
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[KMGTPkmgtp]?(?![\w.]))
  | (?P<name>-*[A-Za-z_][A-Za-z0-9_.\-]*(?:\[\d+\][A-Za-z0-9_.\-]*)*)
""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "true", "false"}
_ORDER = {"<", "<=", ">", ">="}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokens(text: str, what: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConfigError(f"{what}: cannot read {text[pos:pos + 12]!r} at column "
                              f"{pos + 1} of {text!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            word = m.group()
            out.append(_Tok("keyword" if kind == "name" and word in _KEYWORDS else kind,
                            word, pos))
        pos = m.end()
    return out


def _size_value(value: str) -> float | None:
    """Bytes of a size string (``"16M"``), infinity for ``"max"``, None otherwise."""
    if value == "max":
        return math.inf
    try:
        return float(parse_size(value))
    except ConfigError:
        return None


def _compare(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    a_num = isinstance(a, int | float) and not isinstance(a, bool)
    b_num = isinstance(b, int | float) and not isinstance(b, bool)
    if a_num and isinstance(b, str):
        conv = _size_value(b)
        if conv is None:
            return op == "!="
        b = conv
    elif b_num and isinstance(a, str):
        conv = _size_value(a)
        if conv is None:
            return op == "!="
        a = conv
    elif op in _ORDER and (isinstance(a, str) != isinstance(b, str)):
        return False
    if op in ("==", "="):
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        return False


Row = Mapping[str, Any]
_Node = Callable[[Row], Any]


@dataclass(frozen=True)
class Expr:
    """A compiled expression: ``expr(row)`` is true or false; ``names`` the columns it
    reads (resolved)."""

    text: str
    names: tuple[str, ...]
    _fn: _Node

    def __call__(self, row: Row) -> bool:
        return bool(self._fn(row))


def resolve_name(name: str, columns: Sequence[str], *, prefer: Sequence[str] = (),
                 what: str = "name") -> str:
    """The column ``name`` means: itself, else the one column (searched in ``prefer``
    first, then all) whose name ends with ``.NAME`` (of several, the one of fewest path
    parts, if only one has that few); a workload option matches without its dashes (``n``
    is ``workloads[0].-n``, handy where a leading dash would read as a flag). ConfigError
    if none or several."""
    if name in columns:
        return name
    for pool in (list(prefer), list(columns)):
        hits = [c for c in pool if c.endswith("." + name) or c.endswith(".-" + name)
                or c.endswith(".--" + name)]
        if len(hits) > 1:
            # vmstat.pswpout over peak.vmstat.pswpout and cgroups."/".memory.stat.pswpout
            depth = {c: _depth(c) for c in hits}
            least = min(depth.values())
            if list(depth.values()).count(least) == 1:
                return min(hits, key=depth.__getitem__)
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ConfigError(f"{what} {name!r} is ambiguous: {', '.join(hits[:6])}"
                              f"{', ...' if len(hits) > 6 else ''}")
    shown = list(prefer) or list(columns)
    raise ConfigError(f"{what} {name!r} is not a column (known: {', '.join(shown[:12])}"
                      f"{', ...' if len(shown) > 12 else ''})")


def _depth(column: str) -> int:
    """Path parts of a column name (quoted parts count once)."""
    return len(re.findall(r'"[^"]*"|\[\d+\]|[^."\[]+', column))


def _either(a: _Node, b: _Node) -> _Node:
    return lambda r: a(r) or b(r)


def _both(a: _Node, b: _Node) -> _Node:
    return lambda r: a(r) and b(r)


class _Parser:
    def __init__(self, text: str, columns: Sequence[str], prefer: Sequence[str],
                 what: str) -> None:
        self.text = text
        self.toks = _tokens(text, what)
        self.i = 0
        self.columns = columns
        self.prefer = prefer
        self.what = what
        self.names: list[str] = []

    def error(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.what}: {problem} in {self.text!r}")

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end" + (f", expected {text!r}" if text else ""))
        if text is not None and tok.text != text:
            raise self.error(f"expected {text!r} at column {tok.pos + 1}, found {tok.text!r}")
        self.i += 1
        return tok

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in ("op", "keyword") and tok.text in texts

    def parse(self) -> _Node:
        if not self.toks:
            raise self.error("empty expression")
        node = self.expr()
        tok = self.peek()
        if tok is not None:
            raise self.error(f"unexpected {tok.text!r} at column {tok.pos + 1}")
        return node

    def expr(self) -> _Node:
        node = self.conj()
        while self.at("or"):
            self.take()
            node = _either(node, self.conj())
        return node

    def conj(self) -> _Node:
        node = self.neg()
        while self.at("and"):
            self.take()
            node = _both(node, self.neg())
        return node

    def neg(self) -> _Node:
        if self.at("not"):
            self.take()
            inner = self.neg()
            return lambda r: not inner(r)
        return self.compare()

    def compare(self) -> _Node:
        left = self.value()
        if self.at("==", "=", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            right = self.value()
            return lambda r: _compare(op, left(r), right(r))
        negate = False
        if self.at("not") and self.i + 1 < len(self.toks) and self.toks[self.i + 1].text == "in":
            self.take()
            negate = True
        if self.at("in"):
            self.take()
            self.take("[")
            items = [self.value()]
            while self.at(","):
                self.take()
                items.append(self.value())
            self.take("]")

            def member(r: Row) -> bool:
                v = left(r)
                found = any(_compare("==", v, item(r)) for item in items)
                return found != negate
            return member
        return left

    def value(self) -> _Node:
        tok = self.take()
        if tok.kind == "op" and tok.text == "(":
            node = self.expr()
            self.take(")")
            return node
        if tok.kind == "string":
            s = tok.text[1:-1]
            return lambda r: s
        if tok.kind == "number":
            num = _number(tok.text)
            return lambda r: num
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            flag = tok.text == "true"
            return lambda r: flag
        if tok.kind in ("name", "quoted"):
            raw = tok.text.strip("`") if tok.kind == "quoted" else tok.text
            col = resolve_name(raw, self.columns, prefer=self.prefer,
                               what=f"{self.what}: name")
            self.names.append(col)
            return lambda r: r.get(col)
        raise self.error(f"unexpected {tok.text!r} at column {tok.pos + 1}")


def _number(text: str) -> float | int:
    if text[-1].isalpha():
        sign = -1 if text.startswith("-") else 1
        return sign * parse_size(text.lstrip("-"), what="size")
    value = float(text)
    return int(value) if value.is_integer() and not any(c in text for c in ".eE") else value


def compile_expr(text: str, columns: Sequence[str], *, prefer: Sequence[str] = (),
                 what: str = "--where") -> Expr:
    """Parse ``text`` against ``columns`` (names resolved in ``prefer`` first); ConfigError
    with one line on any problem. The result is called with a row."""
    parser = _Parser(text, columns, prefer, what)
    fn = parser.parse()
    return Expr(text, tuple(dict.fromkeys(parser.names)), fn)
