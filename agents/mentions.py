"""Invocation by @mention in the score's chat: ``@aureon harmonise bars 1-8``."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agents.personas import Persona

_MENTION = re.compile(r"(?<![\w@])@([a-z][a-z0-9_]*)\b", re.IGNORECASE)
_RANGE = re.compile(
    r"\b(?:bars?|measures?|mm?\.?)\s*(\d+)(?:\s*(?:-|\u2013|to|through)\s*(\d+))?", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Mention:
    """A chat message addressed to a persona: the instruction is the message without
    the mention; ``bars`` a 1-based inclusive range if the message names one."""

    persona: Persona
    instruction: str
    bars: tuple[int, int] | None = None


def find_mention(text: str, personas: Mapping[str, Persona]) -> Mention | None:
    """The first persona @mentioned in ``text``, if any."""
    for match in _MENTION.finditer(text):
        persona = personas.get(match.group(1).lower())
        if persona is not None:
            instruction = (text[: match.start()] + text[match.end() :]).strip(" ,:")
            return Mention(persona, instruction or persona.default_ability, bar_range(instruction))
    return None


def bar_range(text: str) -> tuple[int, int] | None:
    """``bars 1-8`` → ``(1, 8)``; ``m. 3`` → ``(3, 3)``."""
    match = _RANGE.search(text)
    if match is None:
        return None
    first = int(match.group(1))
    last = int(match.group(2) or first)
    return (min(first, last), max(first, last))


def measures_of(bars: tuple[int, int], numbers: Sequence[tuple[int, str]]) -> tuple[str, ...]:
    """Measure ids whose displayed number (``(number, id)`` pairs) is within ``bars``."""
    low, high = bars
    return tuple(measure_id for number, measure_id in numbers if low <= number <= high)
