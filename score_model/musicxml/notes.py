"""One written note (or chord, or rest) as MusicXML ``<note>`` elements."""

from __future__ import annotations

from collections.abc import Callable

from score_model.musicxml.events import Event, TupletMark
from score_model.musicxml.lengths import Level
from score_model.musicxml.pitches import ACCIDENTALS, SpelledPitch, spell
from score_model.musicxml.spans import Spans

__all__ = ["NoteContext", "note_xml"]

ORNAMENT_TAGS = {
    "trill": "trill-mark",
    "mordent": "mordent",
    "inverted-mordent": "inverted-mordent",
    "turn": "turn",
    "inverted-turn": "inverted-turn",
}


class NoteContext:
    """What writing a note needs beyond the note: staff, voice, the part's paired slurs,
    and whether each pitch shows its accidental."""

    __slots__ = ("shown", "spans", "staff", "voice")

    def __init__(
        self,
        spans: Spans,
        voice: int,
        staff: int | None,
        shown: Callable[[SpelledPitch, bool], bool],
    ) -> None:
        self.spans = spans
        self.voice = voice
        self.staff = staff
        self.shown = shown


def _time_modification(levels: tuple[Level, ...]) -> str:
    if not levels:
        return ""
    if len(levels) == 1:
        level = levels[0]
        unit = ""
        if level.unit_type is not None:
            unit = (
                f"<normal-type>{level.unit_type}</normal-type>" + "<normal-dot/>" * level.unit_dots
            )
        return (
            f"<time-modification><actual-notes>{level.actual}</actual-notes>"
            f"<normal-notes>{level.normal}</normal-notes>{unit}</time-modification>"
        )
    actual = normal = 1
    for level in levels:
        actual *= level.actual
        normal *= level.normal
    return (
        f"<time-modification><actual-notes>{actual}</actual-notes>"
        f"<normal-notes>{normal}</normal-notes></time-modification>"
    )


def _tuplet(mark: TupletMark) -> str:
    if mark.kind == "stop":
        return f'<tuplet type="stop" number="{mark.level + 1}"/>'
    attrs = f'type="start" number="{mark.level + 1}"'
    if mark.bracket is not None:
        attrs += f' bracket="{"yes" if mark.bracket else "no"}"'
    if mark.number == "ratio":
        attrs += ' show-number="both"'
    elif mark.number == "none":
        attrs += ' show-number="none"'
    inner = ""
    if mark.unit is not None:
        kind, dots = mark.unit
        dot = "<tuplet-dot/>" * dots
        inner = (
            f"<tuplet-actual><tuplet-number>{mark.actual}</tuplet-number>"
            f"<tuplet-type>{kind}</tuplet-type>{dot}</tuplet-actual>"
            f"<tuplet-normal><tuplet-number>{mark.normal}</tuplet-number>"
            f"<tuplet-type>{kind}</tuplet-type>{dot}</tuplet-normal>"
        )
    return f'<tuplet {attrs} placement="above">{inner}</tuplet>'


def note_xml(event: Event, ctx: NoteContext, ticks: int, full_rest: bool, lyrics: str) -> str:
    """The ``<note>`` elements of ``event`` (one per pitch of a chord, in its order), lasting
    ``ticks`` divisions."""
    item, piece = event.note, event.piece
    head = '<grace slash="yes"/>' if event.grace else ""
    duration = "" if event.grace else f"<duration>{ticks}</duration>"
    voice = f"<voice>{ctx.voice}</voice>"
    kind = "" if full_rest else f"<type>{piece.type}</type>" + "<dot/>" * piece.dots
    modification = _time_modification(piece.levels)
    stem = f"<stem>{event.stem}</stem>" if event.stem else ""
    staff = f"<staff>{ctx.staff}</staff>" if ctx.staff is not None else ""
    beams = "".join(f'<beam number="{n}">{t}</beam>' for n, t in event.beams)
    marks = _first_marks(event, ctx) if event.first else ""
    last_marks = _last_marks(event, ctx) if event.last else ""
    tuplets = "".join(_tuplet(m) for m in event.tuplets)
    if item.is_rest:
        rest = '<rest measure="yes"/>' if full_rest else "<rest/>"
        notations = tuplets + marks + last_marks
        notations = f"<notations>{notations}</notations>" if notations else ""
        return f"<note>{rest}{duration}{voice}{kind}{modification}{staff}{notations}</note>"
    out = []
    for position, name in enumerate(item.pitches):  # as stored: readers keep the order
        pitch = spell(name)
        tie = item.tie_of(position)
        before = event.index > 0 or tie in ("stop", "continue")
        after = not event.last or tie in ("start", "continue")
        alter = f"<alter>{pitch.alter}</alter>" if pitch.alter else ""
        accidental = (
            f"<accidental>{ACCIDENTALS[pitch.alter]}</accidental>"
            if ctx.shown(pitch, before)
            else ""
        )
        ties = ('<tie type="stop"/>' if before else "") + ('<tie type="start"/>' if after else "")
        tied = ('<tied type="stop"/>' if before else "") + ('<tied type="start"/>' if after else "")
        notations = tied
        if event.first and position < len(item.fingerings):
            notations += (
                f"<technical><fingering>{item.fingerings[position]}</fingering></technical>"
            )
        if position == 0:
            notations += tuplets + marks + last_marks
        notations = f"<notations>{notations}</notations>" if notations else ""
        ident = f' id="{item.id}"' if position == 0 and event.first else ""
        chord = "<chord/>" if position else ""
        out.append(
            f"<note{ident}>{head}{chord}<pitch><step>{pitch.step}</step>{alter}"
            f"<octave>{pitch.octave}</octave></pitch>{duration}{ties}{voice}{kind}"
            f"{accidental}{modification}{stem}{staff}{beams if position == 0 else ''}"
            f"{notations}{lyrics if position == 0 else ''}</note>"
        )
    return "".join(out)


def _first_marks(event: Event, ctx: NoteContext) -> str:
    item = event.note
    out = "".join(
        f'<slur type="start" number="{n}"/>'
        for kind, n in ctx.spans.slurs.get(item.id, ())
        if kind == "start"
    )
    if item.ornaments:
        out += (
            "<ornaments>"
            + "".join(f"<{ORNAMENT_TAGS[o]}/>" for o in item.ornaments)
            + "</ornaments>"
        )
    articulations = [a for a in item.articulations if a != "fermata"]
    if articulations:
        out += "<articulations>" + "".join(f"<{a}/>" for a in articulations) + "</articulations>"
    if "fermata" in item.articulations:
        out += '<fermata type="upright"/>'
    return out


def _last_marks(event: Event, ctx: NoteContext) -> str:
    return "".join(
        f'<slur type="stop" number="{n}"/>'
        for kind, n in ctx.spans.slurs.get(event.note.id, ())
        if kind == "stop"
    )
