"""MusicXML fragments for what is not a note's rhythm: clefs, key and time signatures,
barlines, tempo, dynamics, wedges, chord symbols, lyrics and a note's notations."""

from __future__ import annotations

from fractions import Fraction
from xml.sax.saxutils import escape, quoteattr

from score_model.musicxml.pitches import spell
from score_model.schema import CHORD_KIND_ALIASES, ChordSymbol, KeySignature, Note, Tempo
from score_model.tuplets import note_value

__all__ = [
    "barline_xml",
    "clef_xml",
    "dynamic_xml",
    "harmony_xml",
    "key_xml",
    "lyrics_xml",
    "tempo_xml",
    "time_xml",
    "wedge_xml",
]

CLEF_SIGNS: dict[str, tuple[str, int | None, int]] = {
    "treble": ("G", 2, 0),
    "bass": ("F", 4, 0),
    "alto": ("C", 3, 0),
    "tenor": ("C", 4, 0),
    "treble8vb": ("G", 2, -1),
    "treble8va": ("G", 2, 1),
    "bass8vb": ("F", 4, -1),
    "percussion": ("percussion", None, 0),
    "soprano": ("C", 1, 0),
    "mezzo-soprano": ("C", 2, 0),
    "baritone": ("F", 3, 0),
}
BAR_STYLES = {"double": "light-light", "final": "light-heavy"}
TYPE_OF_BEAT = {
    Fraction(8): "breve",
    Fraction(4): "whole",
    Fraction(2): "half",
    Fraction(1): "quarter",
    Fraction(1, 2): "eighth",
    Fraction(1, 4): "16th",
    Fraction(1, 8): "32nd",
    Fraction(1, 16): "64th",
    Fraction(1, 32): "128th",
    Fraction(1, 64): "256th",
}


def clef_xml(name: str, staff: int | None) -> str:
    sign, line, octave = CLEF_SIGNS[name]
    number = f' number="{staff}"' if staff is not None else ""
    out = f"<clef{number}><sign>{sign}</sign>"
    if line is not None:
        out += f"<line>{line}</line>"
    if octave:
        out += f"<clef-octave-change>{octave}</clef-octave-change>"
    return out + "</clef>"


def key_xml(key: KeySignature) -> str:
    mode = f"<mode>{key.mode}</mode>" if key.mode is not None else ""
    return f"<key><fifths>{key.fifths}</fifths>{mode}</key>"


def time_xml(time: str) -> str:
    beats, beat_type = time.split("/")
    return f"<time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time>"


def barline_xml(side: str, style: str | None, repeat: str | None) -> str:
    out = f'<barline location="{side}">'
    if style is not None:
        out += f"<bar-style>{BAR_STYLES.get(style, style)}</bar-style>"
    if repeat is not None:
        out += f'<repeat direction="{repeat}"/>'
    return out + "</barline>"


def _number(value: float | Fraction) -> str:
    value = round(float(value), 4)
    return str(int(value)) if value.is_integer() else str(value)


def _beat_unit(beat: Fraction) -> tuple[str, int] | None:
    for dots, factor in ((0, Fraction(1)), (1, Fraction(3, 2)), (2, Fraction(7, 4))):
        kind = TYPE_OF_BEAT.get(beat / factor)
        if kind is not None:
            return kind, dots
    return None


def tempo_xml(mark: Tempo, staff: str) -> str:
    """A metronome mark with its sounding tempo (quarters per minute), then its words; a
    beat no single note value writes is given in quarters at the same speed."""
    beat, bpm = mark.beat, float(mark.bpm)
    unit = _beat_unit(beat) if note_value(beat) else None
    if unit is None:
        bpm, beat, unit = round(bpm * float(beat), 2), Fraction(1), ("quarter", 0)
    dots = "<beat-unit-dot/>" * unit[1]
    out = (
        '<direction placement="above"><direction-type><metronome parentheses="no">'
        f"<beat-unit>{unit[0]}</beat-unit>{dots}<per-minute>{_number(bpm)}</per-minute>"
        f'</metronome></direction-type>{staff}<sound tempo="{_number(bpm * float(beat))}"/>'
        "</direction>"
    )
    if mark.text:
        out += (
            '<direction placement="above"><direction-type><words font-weight="bold">'
            f"{escape(mark.text)}</words></direction-type>{staff}</direction>"
        )
    return out


def dynamic_xml(name: str, staff: str) -> str:
    return (
        '<direction placement="below"><direction-type><dynamics>'
        f"<{name}/></dynamics></direction-type>{staff}</direction>"
    )


def wedge_xml(kind: str, number: int, staff: str) -> str:
    return (
        '<direction placement="below"><direction-type>'
        f'<wedge type="{kind}" number="{number}"/></direction-type>{staff}</direction>'
    )


def _step_xml(name: str, tag: str) -> str:
    pitch = spell(name + "4")
    alter = f"<{tag}-alter>{pitch.alter}</{tag}-alter>" if pitch.alter else ""
    return f"<{tag}-step>{pitch.step}</{tag}-step>{alter}"


def harmony_xml(symbol: ChordSymbol, staff: str) -> str:
    """A chord symbol (``<kind>none</kind>`` is N.C., written on C as music21 does)."""
    text = f" text={quoteattr(symbol.text)}" if symbol.text is not None else ""
    if symbol.root is None or symbol.kind == "none":
        kind_text = f" text={quoteattr(symbol.text or 'N.C.')}"
        return (
            '<harmony><root><root-step text="">C</root-step></root>'
            f"<kind{kind_text}>none</kind>{staff}</harmony>"
        )
    kind = CHORD_KIND_ALIASES.get(symbol.kind, symbol.kind)
    out = f"<harmony><root>{_step_xml(symbol.root, 'root')}</root><kind{text}>{kind}</kind>"
    if symbol.bass is not None:
        out += f"<bass>{_step_xml(symbol.bass, 'bass')}</bass>"
    for kind_of_step, value, alter in symbol.degrees:
        out += (
            f"<degree><degree-value>{value}</degree-value><degree-alter>{alter}</degree-alter>"
            f"<degree-type>{kind_of_step}</degree-type></degree>"
        )
    return out + staff + "</harmony>"


def _lyric(text: str, number: int) -> str:
    syllabic = "single"
    if len(text) > 1 and text.endswith("-") and text.startswith("-"):
        syllabic, text = "middle", text[1:-1]
    elif len(text) > 1 and text.endswith("-"):
        syllabic, text = "begin", text[:-1]
    elif len(text) > 1 and text.startswith("-"):
        syllabic, text = "end", text[1:]
    return (
        f'<lyric number="{number}" name="{number}"><syllabic>{syllabic}</syllabic>'
        f"<text>{escape(text)}</text></lyric>"
    )


def lyrics_xml(item: Note) -> str:
    """The note's lyric (verse 1) and later verses, syllables from their hyphens."""
    out = _lyric(item.lyric, 1) if item.lyric is not None else ""
    for number, verse in enumerate(item.verses, start=2):
        if verse is not None:
            out += _lyric(verse, number)
    return out
