"""How a model names things: measures by number (``3``, ``"m3"``) or id, parts by index
(``"P1"``), name or id, durations by name (``"q"``, ``"e."``) or quarters (``"3/2"``)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from score_model.document import ScoreData


class ToolError(ValueError):
    """A tool call the model got wrong: its message goes back to the model."""


DURATION_NAMES = {
    "w": Fraction(4),
    "h": Fraction(2),
    "q": Fraction(1),
    "e": Fraction(1, 2),
    "s": Fraction(1, 4),
    "t": Fraction(1, 8),
}


def parse_duration(value: Any, what: str = "duration") -> Fraction:
    """``"q"``, ``"h."``, ``"e"``, or quarters as ``1``, ``"3/2"``, ``1.5``."""
    text = str(value).strip()
    base = text.rstrip(".")
    dots = len(text) - len(base)
    if base in DURATION_NAMES:
        length = DURATION_NAMES[base]
        return length * (2 - Fraction(1, 2**dots))
    try:
        length = Fraction(text).limit_denominator(64)
    except (ValueError, ZeroDivisionError):
        raise ToolError(
            f"{what} {value!r} is not a duration: use w, h, q, e, s (a dot "
            "adds half) or quarters like 1, 3/2"
        ) from None
    return length


def parse_onset(value: Any) -> Fraction:
    onset = parse_duration(value, "onset")
    if onset < 0:
        raise ToolError(f"onset {value!r} is negative")
    return onset


def duration_name(length: Fraction) -> str:
    """The shortest name of a duration: ``q``, ``h.``, else quarters (``1/3``)."""
    for name, base in DURATION_NAMES.items():
        if length == base:
            return name
        if length == base * Fraction(3, 2):
            return name + "."
    return str(length)


def measure_id(data: ScoreData, ref: Any) -> str:
    """The id of measure ``ref``: a number (1 is the first full bar; 0 a pickup), ``"m3"``
    or an id."""
    text = str(ref).strip()
    ids = {m.id for m in data.measures}
    if text in ids:
        return text
    digits = text[1:] if text[:1] in ("m", "M") else text
    if digits.isdigit():
        for slot in data.layout():
            if slot.number == int(digits):
                return slot.id
        raise ToolError(
            f"no measure {text}: the score has measures {_span([s.number for s in data.layout()])}"
        )
    raise ToolError(f"no measure {ref!r}: name measures by number (3 or 'm3')")


def measure_ids(data: ScoreData, refs: Any) -> list[str] | None:
    """Measure ids of a list of refs, or of a range ``"3-6"``; ``None`` stays ``None``."""
    if refs is None:
        return None
    if isinstance(refs, str | int):
        refs = [refs]
    if not isinstance(refs, list):
        raise ToolError("measures must be a list like [1, 2] or a range like '1-4'")
    out: list[str] = []
    for ref in refs:
        text = str(ref).strip()
        if "-" in text and not text.startswith("m_"):
            first, _, last = text.partition("-")
            start = measure_number(data, first)
            stop = measure_number(data, last)
            out.extend(s.id for s in data.layout() if start <= s.number <= stop)
        else:
            out.append(measure_id(data, ref))
    return out


def measure_number(data: ScoreData, ref: Any) -> int:
    wanted = measure_id(data, ref)
    return next(s.number for s in data.layout() if s.id == wanted)


def part_id(data: ScoreData, ref: Any) -> str:
    """The id of part ``ref``: ``"P2"`` (the second part), its name, or its id."""
    text = str(ref).strip()
    for part in data.parts:
        if text == part.id:
            return part.id
    if text[:1] in ("P", "p") and text[1:].isdigit():
        index = int(text[1:]) - 1
        if 0 <= index < len(data.parts):
            return data.parts[index].id
    for part in data.parts:
        if part.name and text.lower() == part.name.lower():
            return part.id
    names = ", ".join(f"P{i + 1} {p.name}" for i, p in enumerate(data.parts))
    raise ToolError(f"no part {ref!r}; parts: {names or 'none'}")


def part_ids(data: ScoreData, refs: Any) -> list[str] | None:
    if refs is None:
        return None
    if isinstance(refs, str):
        refs = [refs]
    if not isinstance(refs, list):
        raise ToolError("parts must be a list like ['P1', 'Bass']")
    return [part_id(data, ref) for ref in refs]


def part_label(data: ScoreData, part: str) -> str:
    for index, candidate in enumerate(data.parts):
        if candidate.id == part:
            return f"P{index + 1}"
    return part


def _span(numbers: list[int]) -> str:
    return f"{numbers[0]}-{numbers[-1]}" if numbers else "none"
