"""``--scale`` applied to a workload's own command line: sizes and sleeps scale, counts stay.

Each workload says, per option of its parser (:attr:`Workload.SCALING`, keyed by the
argparse ``dest``), what a size factor does to it:

* ``size``: bytes, multiplied and rounded down to whole pages, at least
  :data:`MIN_SCALED_SIZE` (a workload of a few pages measures nothing); ``0`` stays ``0``;
* ``size_range``: ``MIN:MAX``, both ends as ``size``;
* ``seconds``: a duration in the workload's own unit (usemem's ``-s`` sleep), multiplied, so a
  run that shrinks by 128 does not sleep for the full 10 s of the RFC's command;
* ``kept``: counts (processes, threads, workers, jobs, repeats), fractions and per-access CPU
  work, unchanged: contention needs the same concurrency, and a fraction is already relative.

:func:`scale_workload` rewrites the command line: options the user wrote are rewritten in
place, in the user's spelling; a ``size`` option left at a non-zero default is appended with
its scaled default, so the command that runs is the whole truth
(``kbuild -j 52`` at 1/128 runs ``kbuild -j 52 --heap 128K:512K --worker-heap 64K``). The
result lists what was scaled (before and after) and what was kept.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.units import format_scale, format_size, parse_size

if TYPE_CHECKING:
    from vswap.workloads._base import Workload

__all__ = ["MIN_SCALED_SIZE", "ScaleChange", "ScaledCommand", "Scaling", "scale_size",
           "scale_workload"]

#: A scaled size never drops below this (16 pages), unless it was 0.
MIN_SCALED_SIZE = 16 * PAGE_SIZE

SIZE, SIZE_RANGE, SECONDS, KEPT = "size", "size_range", "seconds", "kept"


@dataclass(frozen=True)
class Scaling:
    """How ``--scale`` treats one option: ``kind`` (:data:`SIZE`, :data:`SIZE_RANGE`,
    :data:`SECONDS`, :data:`KEPT`), ``what`` it means (``"bytes per process"``),
    ``always``: list it as kept even when left at its default (process counts), and
    ``default_text`` to show for a default that is not a plain value (``"4 x -j"``)."""

    kind: str
    what: str
    always: bool = False
    default_text: str | None = None


@dataclass(frozen=True)
class ScaleChange:
    """One scaled value: the option as written (``SIZE`` for a positional), before, after,
    what it is, and whether it was the default (then appended to the command line)."""

    option: str
    before: str
    after: str
    what: str
    defaulted: bool = False

    def text(self) -> str:
        default = " (default)" if self.defaulted else ""
        return f"{self.option} {self.before} -> {self.after}{default}"


@dataclass(frozen=True)
class ScaledCommand:
    """A workload command line at ``factor``: the command that runs, and what changed."""

    original: str
    command: str
    factor: float
    changes: tuple[ScaleChange, ...] = ()
    kept: tuple[tuple[str, str, str], ...] = ()

    @property
    def name(self) -> str:
        return self.command.split()[0] if self.command.split() else ""

    def scaled_text(self) -> str:
        """``usemem SIZE 2g -> 16M, -s 10 -> 0.078125``, or "" when nothing scaled."""
        if not self.changes:
            return ""
        return f"{self.name} " + ", ".join(c.text() for c in self.changes)

    def kept_text(self) -> str:
        """``usemem -n 16 (processes)``, or "" when nothing is listed as kept."""
        if not self.kept:
            return ""
        return f"{self.name} " + ", ".join(f"{opt} {value} ({what})"
                                           for opt, value, what in self.kept)

    def as_json(self) -> dict[str, object]:
        return {"original": self.original, "command": self.command, "factor": self.factor,
                "scaled": [{"option": c.option, "before": c.before, "after": c.after,
                            "what": c.what, "default": c.defaulted} for c in self.changes],
                "kept": [{"option": o, "value": v, "what": w} for o, v, w in self.kept]}


def scale_size(nbytes: int, factor: float) -> int:
    """``nbytes * factor`` in whole pages, at least :data:`MIN_SCALED_SIZE`; 0 stays 0."""
    if nbytes == 0:
        return 0
    size = int(nbytes * factor)
    return max(size - size % PAGE_SIZE, MIN_SCALED_SIZE)


def _scale_value(kind: str, text: str, factor: float, what: str) -> str:
    if kind == SIZE:
        return format_size(scale_size(parse_size(text, what=what), factor))
    if kind == SIZE_RANGE:
        return ":".join(_scale_value(SIZE, part, factor, what) for part in text.split(":"))
    try:
        seconds = float(text)
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not a number") from None
    return f"{seconds * factor:.6g}"


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def scale_workload(command: str, factor: float) -> ScaledCommand:
    """``command`` at ``factor`` (see the module docstring). At factor 1 the command is
    returned as written, with the kept counts listed.

    Raises:
        ConfigError: an unknown workload, or an option value that does not parse.
    """
    from vswap.workloads import WORKLOADS

    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"--workload: {exc}") from None
    if not argv:
        raise ConfigError("--workload: empty command line")
    cls: type[Workload] | None = WORKLOADS.get(argv[0])
    if cls is None:
        raise ConfigError(f"unknown workload {argv[0]!r} (known: {', '.join(WORKLOADS)})")
    parser = cls.parser()
    rules = cls.SCALING
    by_option = parser._option_string_actions
    positionals = [a for a in parser._actions if not a.option_strings]
    out = list(argv)
    given: dict[str, tuple[str, str]] = {}  # dest -> (option as written, value)
    changes: list[ScaleChange] = []

    def apply(dest: str, option: str, index: int, prefix: str, value: str) -> None:
        given[dest] = (option, value)
        rule = rules.get(dest)
        if rule is None or rule.kind == KEPT or factor == 1:
            return
        new = _scale_value(rule.kind, value, factor, f"{argv[0]} {option}")
        out[index] = prefix + new
        changes.append(ScaleChange(option, value, new, rule.what))

    i, pos = 1, 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and "=" in token:
            opt, _, value = token.partition("=")
            action = by_option.get(opt)
            if action is not None:
                apply(action.dest, opt, i, opt + "=", value)
        elif token in by_option:
            action = by_option[token]
            if _takes_value(action) and i + 1 < len(argv):
                apply(action.dest, token, i + 1, "", argv[i + 1])
                i += 1
            else:
                given[action.dest] = (token, "")
        elif token.startswith("-") and len(token) > 2 and token[:2] in by_option and \
                _takes_value(by_option[token[:2]]):
            action = by_option[token[:2]]
            apply(action.dest, token[:2], i, token[:2], token[2:])
        elif not token.startswith("-") and pos < len(positionals):
            apply(positionals[pos].dest, positionals[pos].dest.upper(), i, "", token)
            pos += 1
        i += 1
    for action in parser._actions:
        rule = rules.get(action.dest)
        if rule is None or action.dest in given or factor == 1:
            continue
        if rule.kind in (SIZE, SIZE_RANGE) and isinstance(action.default, str) and \
                action.option_strings:
            default = action.default
            option = action.option_strings[-1]
            new = _scale_value(rule.kind, default, factor, f"{argv[0]} {option}")
            if new != default and any(parse_size(p) for p in default.split(":")):
                out += [option, new]
                changes.append(ScaleChange(option, default, new, rule.what, defaulted=True))
    kept = []
    for action in parser._actions:
        rule = rules.get(action.dest)
        if rule is None or rule.kind != KEPT:
            continue
        if action.dest in given:
            option, value = given[action.dest]
            kept.append((option, value or "on", rule.what))
        elif rule.always:
            option = action.option_strings[0] if action.option_strings else action.dest
            value = rule.default_text or str(action.default)
            kept.append((option, value, rule.what))
    text = command if factor == 1 else shlex.join(out)
    return ScaledCommand(original=command, command=text, factor=factor,
                         changes=tuple(changes), kept=tuple(kept))


def describe_factor(factor: float) -> str:
    """``scale 1/128`` (for headings)."""
    return f"scale {format_scale(factor)}"
