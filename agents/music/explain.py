"""Explanations of a score in plain words, from the analysis engine's results.

Two registers over the same facts (key plan, phrases and cadences, form, chords,
voice-leading problems), each with measure references:

- ``analyst`` (mia): compact and technical: the key plan with its modulations, phrases
  and their cadences (type, figures, key), the form from repeated phrase melodies,
  the chord vocabulary, and every voice-leading problem with measure, beat, voices and
  pitches;
- ``teacher`` (miette): warm and plain for beginners: what a key, a cadence or a
  parallel fifth is, one idea at a time, the most useful problem to fix first.

Input is the dictionary of results the engine produces (``{"key": envelope, ...}`` from
:func:`analysis_engine.run_all`, or the bare results); :func:`analyse` computes it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from agents.music.tonal import midi_of
from agents.music.view import ScoreView
from analysis_engine import build_table, run_all
from analysis_engine.labels import CADENCES, ISSUES
from analysis_engine.meter import meter_of
from analysis_engine.units import TPQ
from score_model.document import ScoreData

REGISTERS = ("analyst", "teacher")
ANALYSES = ["key", "harmony", "melody", "voice_leading", "summary"]
_WHY = {
    "parallel_fifths": "two voices a fifth apart move together to another fifth, so they "
    "blend into one and the texture loses a voice",
    "parallel_octaves": "two voices an octave (or unison) apart move together, so they "
    "sound like one voice doubled",
    "hidden_fifths": "the outer voices leap in the same direction into a fifth, which "
    "sounds almost like parallel fifths",
    "hidden_octaves": "the outer voices leap in the same direction into an octave",
    "crossing": "a lower voice goes above the one over it, so the ear loses track of who "
    "sings what",
    "overlap": "a voice moves past where its neighbour just was",
    "spacing": "the upper voices are more than an octave apart, which leaves a hole in the chord",
    "range": "a voice goes outside the comfortable range for a singer",
}


@dataclass(frozen=True)
class Explanation:
    """The text (paragraphs joined by blank lines), its paragraphs, and the measures it
    refers to (``{"measure": id, "number": n}``, in score order)."""

    register: str
    text: str
    paragraphs: tuple[str, ...]
    references: tuple[dict[str, Any], ...] = field(default=())


def analyse(data: ScoreData) -> dict[str, dict[str, Any]]:
    """The engine results :func:`explain` reads, computed from scratch."""
    return run_all(build_table(data), only=ANALYSES)


def _result(results: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = results.get(name) or {}
    return value.get("result", value) if isinstance(value, dict) else {}


class _Refs:
    """Measure id -> number, and the references collected while writing."""

    def __init__(self, key_result: dict[str, Any], view: ScoreView | None) -> None:
        self.numbers = {m["measure"]: m["number"] for m in key_result.get("measures", [])}
        self.order = {m["measure"]: i for i, m in enumerate(key_result.get("measures", []))}
        self.times = {m.id: m.time for m in view.measures} if view else {}
        self.used: dict[str, None] = {}

    def bar(self, measure: str, onset: str | None = None) -> str:
        self.used.setdefault(measure, None)
        text = f"bar {self.numbers.get(measure, '?')}"
        if onset and onset != "0":
            beat = Fraction(meter_of(self.times.get(measure, "4/4")).beat, TPQ)
            text += f" beat {float(Fraction(onset) / beat + 1):g}"
        return text

    def span(self, first: str, last: str) -> str:
        self.used.setdefault(first, None)
        self.used.setdefault(last, None)
        a, b = self.numbers.get(first, "?"), self.numbers.get(last, "?")
        return f"bar {a}" if a == b else f"bars {a}-{b}"

    def references(self) -> tuple[dict[str, Any], ...]:
        ordered = sorted(self.used, key=lambda m: self.order.get(m, 1 << 30))
        return tuple({"measure": m, "number": self.numbers.get(m)} for m in ordered)


def _phrases(
    key_result: dict[str, Any], cadences: Sequence[dict[str, Any]]
) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(first measure, last measure, closing cadence) per phrase, cut at cadences."""
    measures = [m["measure"] for m in key_result.get("measures", [])]
    if not measures:
        return []
    index = {m: i for i, m in enumerate(measures)}
    out: list[tuple[str, str, dict[str, Any] | None]] = []
    start = 0
    for cadence in sorted(cadences, key=lambda c: index.get(c["measure"], 0)):
        end = index.get(cadence["measure"], 0)
        if end >= start:
            out.append((measures[start], measures[end], cadence))
            start = end + 1
    if start < len(measures):
        out.append((measures[start], measures[-1], None))
    return out


def _form(
    view: ScoreView | None, phrases: list[tuple[str, str, dict[str, Any] | None]]
) -> str | None:
    """Letters per phrase from the top part's melody (same intervals = same letter)."""
    if view is None or not view.parts or len(phrases) < 2:
        return None
    index = {m.id: i for i, m in enumerate(view.measures)}
    if any(first not in index or last not in index for first, last, _ in phrases):
        return None  # the view covers part of the score only
    top = view.parts[0].voice(1)
    shapes: list[tuple[int, ...]] = []
    for first, last, _ in phrases:
        pitches = [
            e.pitches[0] for cell in top[index[first] : index[last] + 1] for e in cell if e.pitches
        ]
        midis = [midi_of(p) for p in pitches]
        shapes.append(tuple(b - a for a, b in itertools.pairwise(midis)))
    letters: list[str] = []
    seen: dict[tuple[int, ...], str] = {}
    for shape in shapes:
        if shape not in seen:
            seen[shape] = chr(ord("A") + len(seen))
        letters.append(seen[shape])
    return " ".join(letters)


def explain(
    results: Mapping[str, Any],
    *,
    register: str = "analyst",
    view: ScoreView | None = None,
    part_names: Mapping[str, str] | None = None,
    limit: int = 8,
) -> Explanation:
    """Explain a score from its analysis results in the ``analyst`` or ``teacher``
    register. ``view`` (optional) adds beats, phrase form and part names; at most
    ``limit`` voice-leading problems are listed one by one."""
    if register not in REGISTERS:
        raise ValueError(f"register must be one of {REGISTERS}")
    key = _result(results, "key")
    harmony = _result(results, "harmony")
    voice = _result(results, "voice_leading")
    refs = _Refs(key, view)
    names = dict(part_names or {})
    if view is not None:
        names.update({p.part: p.name for p in view.parts})
    cadences = harmony.get("cadences", [])
    phrases = _phrases(key, cadences)
    form = _form(view, phrases)
    write = _analyst if register == "analyst" else _teacher
    paragraphs = tuple(
        p for p in write(key, harmony, voice, phrases, form, refs, names, limit) if p
    )
    return Explanation(register, "\n\n".join(paragraphs), paragraphs, refs.references())


def _part(names: Mapping[str, str], part_id: str) -> str:
    return names.get(part_id, "a voice")


def _issue_text(issue: dict[str, Any], refs: _Refs, names: Mapping[str, str]) -> str:
    who = " and ".join(_part(names, p) for p in issue.get("parts", []))
    pitches = issue.get("pitches", [])
    if issue["type"].startswith("parallel") and len(pitches) == 4:
        motion = f"{pitches[0]}/{pitches[1]} to {pitches[2]}/{pitches[3]}"
    else:
        motion = ", ".join(p for p in pitches if p)
    where = refs.bar(issue["measure"], issue.get("onset"))
    return f"{ISSUES.get(issue['type'], issue['type'])} in {where} ({who}: {motion})"


def _analyst(
    key: dict[str, Any],
    harmony: dict[str, Any],
    voice: dict[str, Any],
    phrases: list[tuple[str, str, dict[str, Any] | None]],
    form: str | None,
    refs: _Refs,
    names: Mapping[str, str],
    limit: int,
) -> list[str]:
    out = []
    plan = [
        f"Key: {key.get('key', 'unknown')} (correlation {key.get('correlation', 0)}, "
        f"margin {key.get('margin', 0)})."
    ]
    for mod in key.get("modulations", []):
        at = refs.bar(mod["measure"], mod.get("onset"))
        plan.append(f"Modulates to {mod['to']} at {at} (from {mod['from']}).")
    out.append(" ".join(plan))
    if phrases:
        items = []
        for first, last, cadence in phrases:
            text = refs.span(first, last)
            if cadence is not None:
                kind = CADENCES.get(cadence["type"], cadence["type"])
                perfect = " (perfect)" if cadence.get("perfect") else ""
                text += (
                    f": {kind}{perfect} in {cadence['key']}, "
                    f"{' - '.join(f for f in cadence.get('figures', []) if f)}"
                )
            else:
                text += ": no cadence"
            items.append(text)
        line = f"{len(phrases)} phrases — " + "; ".join(items) + "."
        if form:
            line += f" Form by phrase melody: {form}."
        out.append(line)
    figures = Counter(
        s["figure"] for s in harmony.get("slices", []) if s.get("figure") and s.get("attack")
    )
    if figures:
        common = ", ".join(f"{f} ({n})" for f, n in figures.most_common(6))
        applied = sorted({f for f in figures if "/" in f})
        text = f"Harmony: most frequent chords {common}."
        if applied:
            text += f" Applied chords: {', '.join(applied[:6])}."
        out.append(text)
    issues = voice.get("issues", [])
    counts = Counter(i["type"] for i in issues)
    if not issues:
        out.append(
            "Voice leading: no parallel or hidden fifths or octaves, crossings, "
            "overlaps, spacing or range problems."
        )
    else:
        summary = ", ".join(f"{n} {ISSUES.get(t, t)}" for t, n in counts.most_common())
        listed = [_issue_text(i, refs, names) for i in _ranked(issues)[:limit]]
        more = f" (and {len(issues) - limit} more)" if len(issues) > limit else ""
        out.append(f"Voice leading: {summary}. " + "; ".join(listed) + more + ".")
    return out


def _ranked(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = list(ISSUES)
    return sorted(issues, key=lambda i: order.index(i["type"]) if i["type"] in order else 99)


def _teacher(
    key: dict[str, Any],
    harmony: dict[str, Any],
    voice: dict[str, Any],
    phrases: list[tuple[str, str, dict[str, Any] | None]],
    form: str | None,
    refs: _Refs,
    names: Mapping[str, str],
    limit: int,
) -> list[str]:
    del limit
    out = []
    home = key.get("key")
    if home:
        tonic = home.split()[0].capitalize().replace("-", " flat").replace("#", " sharp")
        mood = "bright" if key.get("mode") == "major" else "darker, more serious"
        out.append(
            f"This piece is in {home.replace('-', '-flat')}: its home note is {tonic}, "
            f"and the music feels settled whenever it comes back there. A "
            f"{key.get('mode', 'major')} key often sounds {mood}."
        )
    mods = key.get("modulations", [])
    if mods:
        first = mods[0]
        out.append(
            f"Around {refs.bar(first['measure'])} the music travels to {first['to']} "
            f"for a while — that's called a modulation, like visiting a "
            f"neighbour's house" + (" before coming back home." if len(mods) > 1 else ".")
        )
    closing = [(f, last, c) for f, last, c in phrases if c is not None]
    if phrases:
        text = f"The music breathes in {len(phrases)} phrases, a bit like sentences in a story."
        if closing:
            best = next((c for c in closing if c[2] and c[2]["type"] == "authentic"), closing[0])
            cadence = best[2]
            assert cadence is not None
            figures = cadence.get("figures", [])
            explanation = {
                "authentic": "the chord built on the fifth note of the key goes home to "
                "the chord on the first note — the strongest way to say "
                "'full stop'",
                "half": "the phrase pauses on the chord built on the fifth note, like a "
                "comma or a question",
                "plagal": "the chord on the fourth note goes to the home chord, the "
                "gentle 'Amen' ending",
                "deceptive": "the music seems about to go home but lands somewhere else, "
                "a little surprise",
            }[cadence["type"]]
            name = CADENCES[cadence["type"]]
            article = "an" if name[0] in "aeiou" else "a"
            text += (
                f" Listen to {refs.bar(cadence['measure'])}: there's {article} "
                f"{name} ({' to '.join(f for f in figures if f)})"
                f" — {explanation}."
            )
        if form and len(set(form.split())) < len(form.split()):
            text += (
                f" Some phrases share the same tune (the pattern is {form}); "
                "spotting repeats like this helps you learn a piece quickly."
            )
        out.append(text)
    issues = _ranked(voice.get("issues", []))
    if not issues:
        out.append(
            "The voices move nicely on their own: no parallel fifths or octaves and "
            "no voices crossing. Lovely work!"
        )
    else:
        first = issues[0]
        why = _WHY.get(first["type"], "it breaks a voice-leading rule")
        out.append(
            f"One thing to look at first: {_issue_text(first, refs, names)}. "
            f"It matters because {why}. Try moving one of the two voices in the "
            f"opposite direction, or keeping one of them still."
            + (
                f" There are {len(issues) - 1} more spots like this; fix them one at a time."
                if len(issues) > 1
                else ""
            )
        )
    return out
