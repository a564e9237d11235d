"""The Yjs schema of a score: root names, value types and their JSON codec.

The schema is a public contract with browser clients (see ``docs/score-schema.md``).
Every root container exists from document creation; notes are JSON values in one
flat map keyed by unique ids, so concurrent inserts never collide.

Decoding is strict (it raises :class:`SchemaError` naming the problem) but tolerant
of what JavaScript clients send: numbers arrive as floats and are normalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from score_model.text import clean_text

SCHEMA_VERSION = 4

META = "meta"
PARTS = "parts"
MEASURES = "measures"
NOTES = "notes"
CHAT = "chat"
COMMENTS = "comments"
SUGGESTIONS = "suggestions"  # since schema version 2

TIE_TYPES = frozenset({"start", "stop", "continue"})
BARLINE_TYPES = frozenset(
    {
        "regular",
        "dotted",
        "dashed",
        "heavy",
        "double",
        "final",
        "heavy-light",
        "heavy-heavy",
        "tick",
        "short",
        "none",
    }
)
REPEAT_TYPES = frozenset({"start", "end", "both"})
KEY_MODES = frozenset(
    {"major", "minor", "dorian", "phrygian", "lydian", "mixolydian", "aeolian", "ionian", "locrian"}
)
DYNAMICS = frozenset(
    {
        "pppp",
        "ppp",
        "pp",
        "p",
        "mp",
        "mf",
        "f",
        "ff",
        "fff",
        "ffff",
        "sf",
        "sfz",
        "sffz",
        "fp",
        "rf",
        "rfz",
        "fz",
        "sfp",
        "sfpp",
    }
)
ARTICULATIONS = frozenset(
    {
        "staccato",
        "staccatissimo",
        "accent",
        "strong-accent",
        "tenuto",
        "detached-legato",
        "spiccato",
        "stress",
        "unstress",
        "fermata",
    }
)
ORNAMENTS = frozenset({"trill", "mordent", "inverted-mordent", "turn", "inverted-turn"})
SLUR_MARKS = frozenset({"start", "stop"})  # since version 3
HAIRPIN_MARKS = frozenset({"crescendo", "diminuendo", "stop"})  # since version 3
MAX_VERSES = 8
TUPLET_NUMBERS = frozenset({"number", "ratio", "none"})  # since version 4
MAX_TUPLET_DEPTH = 3
MAX_CHORD_SYMBOLS = 64  # per measure
# Chord-symbol kinds (since version 4): MusicXML's <kind> values, and music21's names for
# the chords MusicXML spells as a kind plus degrees.
CHORD_KINDS = frozenset(
    {
        "major",
        "minor",
        "augmented",
        "diminished",
        "dominant",
        "major-seventh",
        "minor-seventh",
        "diminished-seventh",
        "augmented-seventh",
        "half-diminished",
        "major-minor",
        "major-sixth",
        "minor-sixth",
        "dominant-ninth",
        "major-ninth",
        "minor-ninth",
        "dominant-11th",
        "major-11th",
        "minor-11th",
        "dominant-13th",
        "major-13th",
        "minor-13th",
        "suspended-second",
        "suspended-fourth",
        "Neapolitan",
        "Italian",
        "French",
        "German",
        "pedal",
        "power",
        "Tristan",
        "other",
        "none",
        "dominant-seventh",
        "minor-major-seventh",
        "half-diminished-seventh",
        "augmented-major-seventh",
        "seventh-flat-five",
        "minor-major-ninth",
        "augmented-major-ninth",
        "augmented-dominant-ninth",
        "half-diminished-ninth",
        "half-diminished-minor-ninth",
        "diminished-ninth",
        "diminished-minor-ninth",
        "minor-major-11th",
        "augmented-major-11th",
        "augmented-11th",
        "half-diminished-11th",
        "diminished-11th",
        "minor-major-13th",
        "augmented-major-13th",
        "augmented-dominant-13th",
        "half-diminished-13th",
        "suspended-fourth-seventh",
    }
)
# music21's names of kinds MusicXML names otherwise: writers use MusicXML's
CHORD_KIND_ALIASES = {
    "dominant-seventh": "dominant",
    "minor-major-seventh": "major-minor",
    "half-diminished-seventh": "half-diminished",
}
DEGREE_TYPES = frozenset({"add", "alter", "subtract"})
CLEFS = frozenset(
    {
        "treble",
        "bass",
        "alto",
        "tenor",
        "treble8vb",
        "treble8va",
        "bass8vb",
        "percussion",
        "soprano",
        "mezzo-soprano",
        "baritone",
    }
)

NOTE_FIELDS = frozenset(
    {
        "measure",
        "part",
        "voice",
        "staff",
        "onset",
        "duration",
        "pitches",
        "ties",
        "lyric",
        "articulations",
        "dynamic",
        "grace",
        "slurs",
        "hairpins",
        "ornaments",
        "fingerings",
        "verses",
        "clef",
        "tuplets",
    }
)
MAX_DENOMINATOR = 1 << 12
_PITCH_RE = re.compile(r"^[A-G](?:#{1,3}|-{1,3})?[0-9]$")
_STEP_RE = re.compile(r"^[A-G](?:#{1,3}|-{1,3})?$")
_TIME_RE = re.compile(r"^([1-9][0-9]?)/(1|2|4|8|16|32|64)$")


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a document's content, with where it is."""

    code: str
    message: str
    measure: str | None = None
    part: str | None = None
    note: str | None = None
    voice: int | None = None
    severity: str = "error"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k in self.__slots__ if (v := getattr(self, k)) is not None}


class SchemaError(ValueError):
    """A value in the document does not follow the schema."""

    def __init__(self, message: str, *, field_name: str | None = None) -> None:
        super().__init__(message)
        self.field_name = field_name


# --- scalar codecs ---------------------------------------------------------------------------


def normalise_number(value: Any) -> Any:
    """Turn integral floats (how pycrdt and JavaScript hand us every number) into ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


_FRACTIONS: dict[str, Fraction] = {}  # short strings already read (a score uses a few dozen)
_FRACTIONS_MOST = 4096


def parse_fraction(value: Any, field_name: str = "value") -> Fraction:
    """Read an exact quarter-note fraction: ``"1/2"``, ``"3"``, or a number from a JS client."""
    if type(value) is str:
        known = _FRACTIONS.get(value)
        if known is not None:
            return known
    if isinstance(value, bool):
        raise SchemaError(f"{field_name} must be a fraction, got a boolean", field_name=field_name)
    try:
        if isinstance(value, str):
            result = Fraction(value.strip())
        elif isinstance(value, int):
            result = Fraction(value)
        elif isinstance(value, float):
            result = Fraction(value).limit_denominator(MAX_DENOMINATOR)
        else:
            raise SchemaError(
                f"{field_name} must be a fraction string like '1/2', got {type(value).__name__}",
                field_name=field_name,
            )
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        raise SchemaError(
            f"{field_name} {value!r} is not a fraction", field_name=field_name
        ) from exc
    if result.denominator > MAX_DENOMINATOR:
        raise SchemaError(
            f"{field_name} {value!r} has a denominator above {MAX_DENOMINATOR}",
            field_name=field_name,
        )
    if type(value) is str and len(value) <= 32 and len(_FRACTIONS) < _FRACTIONS_MOST:
        _FRACTIONS[value] = result  # immutable, so shared
    return result


def format_fraction(value: Fraction | int) -> str:
    """Write a fraction the way the schema stores it: ``"1/2"``, ``"3"``."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


def check_pitch(value: Any) -> str:
    """Return a music21 pitch name (``C4``, ``F#5``, ``B-3``) or raise."""
    if not isinstance(value, str) or not _PITCH_RE.match(value):
        raise SchemaError(
            f"pitch {value!r} is not a pitch name like 'C4', 'F#5' or 'B-3'", field_name="pitches"
        )
    return value


def check_time_signature(value: Any) -> str:
    """Return a time signature such as ``"3/4"`` or raise."""
    if not isinstance(value, str) or not _TIME_RE.match(value):
        raise SchemaError(f"time signature {value!r} is not like '3/4'", field_name="time")
    return value


def bar_duration(time_signature: str) -> Fraction:
    """Length of a full bar in quarter notes: ``"6/8"`` gives 3."""
    numerator, denominator = check_time_signature(time_signature).split("/")
    return Fraction(int(numerator) * 4, int(denominator))


def _int_field(raw: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    if name not in raw and low <= default <= high:  # absent, with a valid default
        return default
    value = normalise_number(raw.get(name, default))
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise SchemaError(
            f"{name} must be an integer from {low} to {high}, got {value!r}", field_name=name
        )
    return value


def _str_field(
    raw: dict[str, Any], name: str, *, required: bool = False, max_length: int = 10_000
) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise SchemaError(f"{name} is required", field_name=name)
        return None
    if not isinstance(value, str) or (required and not value) or len(value) > max_length:
        raise SchemaError(
            f"{name} must be a string of at most {max_length} characters", field_name=name
        )
    return clean_text(value)


def _marks(raw: dict[str, Any], name: str, allowed: frozenset[str], most: int) -> tuple[str, ...]:
    """A list of at most ``most`` names from ``allowed`` (empty when absent)."""
    if name not in raw:
        return ()
    value = raw[name]
    if not isinstance(value, list) or len(value) > most or any(v not in allowed for v in value):
        raise SchemaError(
            f"{name} must be a list of at most {most} of {sorted(allowed)}", field_name=name
        )
    return tuple(value)


def _texts(
    raw: dict[str, Any], name: str, most: int, max_length: int, *, nullable: bool
) -> tuple[str | None, ...]:
    """A list of at most ``most`` strings (or nulls, when ``nullable``); trailing nulls dropped."""
    if name not in raw:
        return ()
    value = raw[name]
    if (
        not isinstance(value, list)
        or len(value) > most
        or any(
            not (isinstance(v, str) and 0 < len(v) <= max_length) and not (nullable and v is None)
            for v in value
        )
    ):
        raise SchemaError(
            f"{name} must be a list of at most {most} strings of 1 to {max_length} characters",
            field_name=name,
        )
    items = [None if v is None else clean_text(v) for v in value]
    while items and items[-1] is None:
        items.pop()
    return tuple(items)


# --- value types -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tuplet:
    """A tuplet group a note belongs to (version 4): ``actual`` notes in the time of
    ``normal`` notes of ``unit`` quarters (3:2 eighths: ``3, 2, 1/2``), its bracket and the
    number shown (``number``: "3", ``ratio``: "3:2", ``none``). The notes of a group
    share its ``id``; nested groups are listed outermost first."""

    id: str
    actual: int
    normal: int
    unit: Fraction | None = None  # the normal note's value; None: each note's own
    bracket: bool = True
    number: str = "number"

    @property
    def ratio(self) -> Fraction:
        """How much the group squeezes its notes' written values (3:2 gives 2/3)."""
        return Fraction(self.normal, self.actual)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "actual": self.actual, "normal": self.normal}
        if self.unit is not None:
            out["unit"] = format_fraction(self.unit)
        if not self.bracket:
            out["bracket"] = False
        if self.number != "number":
            out["number"] = self.number
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Tuplet:
        if not isinstance(raw, dict) or set(raw) - {
            "id",
            "actual",
            "normal",
            "unit",
            "bracket",
            "number",
        }:
            raise SchemaError(
                "a tuplet must be an object with id, actual, normal and optionally unit, "
                "bracket, number",
                field_name="tuplets",
            )
        raw = {k: v for k, v in raw.items() if v is not None}
        try:
            group = _str_field(raw, "id", required=True, max_length=64)
            actual = _int_field(raw, "actual", 0, 1, 99)
            normal = _int_field(raw, "normal", 0, 1, 99)
            unit = None if "unit" not in raw else parse_fraction(raw["unit"], "unit")
        except SchemaError as exc:
            raise SchemaError(f"tuplet {exc}", field_name="tuplets") from exc
        if unit is not None and not 0 < unit <= 8:
            raise SchemaError("tuplet unit must be from 0 to 8 quarters", field_name="tuplets")
        bracket = raw.get("bracket", True)
        number = raw.get("number", "number")
        if not isinstance(bracket, bool) or number not in TUPLET_NUMBERS:
            raise SchemaError(
                "tuplet bracket must be true or false and number one of number, ratio, none",
                field_name="tuplets",
            )
        assert group is not None
        return cls(group, actual, normal, unit, bracket, number)


def _tuplets(raw: dict[str, Any]) -> tuple[Tuplet, ...]:
    if "tuplets" not in raw:
        return ()
    value = raw["tuplets"]
    if not isinstance(value, list) or len(value) > MAX_TUPLET_DEPTH:
        raise SchemaError(
            f"tuplets must be a list of at most {MAX_TUPLET_DEPTH} groups, outermost first",
            field_name="tuplets",
        )
    groups = tuple(Tuplet.from_json(v) for v in value)
    if len({g.id for g in groups}) != len(groups):
        raise SchemaError("a note is in the same tuplet group twice", field_name="tuplets")
    return groups


@dataclass(frozen=True, slots=True)
class Note:
    """One note, rest (no pitches) or chord (several pitches) of one part in one measure."""

    id: str
    measure: str
    part: str
    onset: Fraction
    duration: Fraction
    pitches: tuple[str, ...] = ()
    voice: int = 1
    staff: int = 1
    ties: tuple[str | None, ...] = ()
    lyric: str | None = None
    articulations: tuple[str, ...] = ()
    dynamic: str | None = None
    grace: bool = False
    slurs: tuple[str, ...] = ()  # version 3: "start" / "stop" marks, paired per voice
    hairpins: tuple[str, ...] = ()  # version 3: "crescendo" / "diminuendo" / "stop"
    ornaments: tuple[str, ...] = ()  # version 3
    fingerings: tuple[str, ...] = ()  # version 3: one per pitch, bottom up
    verses: tuple[str | None, ...] = ()  # version 3: lyrics of verse 2 onwards
    clef: str | None = None  # version 3: a clef change on this note's staff, just before it
    tuplets: tuple[Tuplet, ...] = ()  # version 4: tuplet groups, outermost first

    @property
    def is_rest(self) -> bool:
        return not self.pitches

    @property
    def end(self) -> Fraction:
        return self.onset + self.duration

    def tie_of(self, index: int) -> str | None:
        return self.ties[index] if index < len(self.ties) else None

    def to_json(self) -> dict[str, Any]:
        """The JSON value stored under this note's id (defaults omitted)."""
        out: dict[str, Any] = {
            "measure": self.measure,
            "part": self.part,
            "onset": format_fraction(self.onset),
            "duration": format_fraction(self.duration),
            "pitches": list(self.pitches),
        }
        if self.voice != 1:
            out["voice"] = self.voice
        if self.staff != 1:
            out["staff"] = self.staff
        if any(self.ties):
            out["ties"] = list(self.ties)
        if self.lyric is not None:
            out["lyric"] = self.lyric
        if self.articulations:
            out["articulations"] = list(self.articulations)
        if self.dynamic is not None:
            out["dynamic"] = self.dynamic
        if self.grace:
            out["grace"] = True
        for name in ("slurs", "hairpins", "ornaments", "fingerings", "verses"):
            if value := getattr(self, name):
                out[name] = list(value)
        if self.clef is not None:
            out["clef"] = self.clef
        if self.tuplets:
            out["tuplets"] = [t.to_json() for t in self.tuplets]
        return out

    @property
    def written(self) -> Fraction:
        """The note's written value: its duration without the squeeze of its tuplets."""
        value = self.duration
        for group in self.tuplets:
            value /= group.ratio
        return value

    @classmethod
    def from_json(cls, note_id: str, raw: Any) -> Note:
        """Decode a stored note, raising :class:`SchemaError` on anything off-schema."""
        if not isinstance(raw, dict):
            raise SchemaError(f"note must be a JSON object, got {type(raw).__name__}")
        if not NOTE_FIELDS.issuperset(raw):
            unknown = set(raw) - NOTE_FIELDS
            raise SchemaError(
                f"unknown note fields: {', '.join(sorted(map(str, unknown)))}",
                field_name="unknown_field",
            )
        if any(v is None for v in raw.values()):
            raw = {k: v for k, v in raw.items() if v is not None}  # null: absent (JS undefined)
        measure = _str_field(raw, "measure", required=True, max_length=64)
        part = _str_field(raw, "part", required=True, max_length=64)
        onset = parse_fraction(raw.get("onset"), "onset")
        if onset < 0:
            raise SchemaError(f"onset {format_fraction(onset)} is negative", field_name="onset")
        grace = raw.get("grace", False)
        if not isinstance(grace, bool):
            raise SchemaError("grace must be true or false", field_name="grace")
        duration = parse_fraction(raw.get("duration"), "duration")
        if duration < 0 or (duration == 0 and not grace):
            raise SchemaError(
                f"duration {format_fraction(duration)} must be positive", field_name="duration"
            )
        pitches_raw = raw.get("pitches", [])
        if not isinstance(pitches_raw, list) or len(pitches_raw) > 16:
            raise SchemaError(
                "pitches must be a list of at most 16 pitch names", field_name="pitches"
            )
        pitches = tuple(check_pitch(p) for p in pitches_raw)
        ties_raw = raw.get("ties", [])
        if not isinstance(ties_raw, list) or len(ties_raw) > len(pitches):
            raise SchemaError("ties must be a list no longer than pitches", field_name="ties")
        for tie in ties_raw:
            if tie is not None and tie not in TIE_TYPES:
                raise SchemaError(
                    f"tie {tie!r} is not start, stop, continue or null", field_name="ties"
                )
        ties = tuple(ties_raw) if any(ties_raw) else ()
        articulations_raw = raw.get("articulations", [])
        if not isinstance(articulations_raw, list) or any(
            a not in ARTICULATIONS for a in articulations_raw
        ):
            raise SchemaError(
                f"articulations must be a list of {sorted(ARTICULATIONS)}",
                field_name="articulations",
            )
        dynamic = raw.get("dynamic")
        if dynamic is not None and dynamic not in DYNAMICS:
            raise SchemaError(
                f"dynamic {dynamic!r} is not one of {sorted(DYNAMICS)}", field_name="dynamic"
            )
        assert measure is not None and part is not None
        slurs = _marks(raw, "slurs", SLUR_MARKS, 4)
        hairpins = _marks(raw, "hairpins", HAIRPIN_MARKS, 4)
        ornaments = _marks(raw, "ornaments", ORNAMENTS, len(ORNAMENTS))
        fingerings = _texts(raw, "fingerings", 16, 10, nullable=False)
        verses = _texts(raw, "verses", MAX_VERSES, 1_000, nullable=True)
        clef = raw.get("clef")
        if clef is not None and clef not in CLEFS:
            raise SchemaError(f"clef {clef!r} is not one of {sorted(CLEFS)}", field_name="clef")
        return cls(
            id=note_id,
            measure=measure,
            part=part,
            onset=onset,
            duration=duration,
            pitches=pitches,
            voice=_int_field(raw, "voice", 1, 1, 16),
            staff=_int_field(raw, "staff", 1, 1, 4),
            ties=ties,
            lyric=_str_field(raw, "lyric", max_length=1_000),
            articulations=tuple(articulations_raw),
            dynamic=dynamic,
            grace=grace,
            slurs=slurs,
            hairpins=hairpins,
            ornaments=ornaments,
            fingerings=fingerings,  # type: ignore[arg-type]
            verses=verses,
            clef=clef,
            tuplets=_tuplets(raw),
        )


@dataclass(frozen=True, slots=True)
class KeySignature:
    """A key signature: ``fifths`` sharps (negative: flats), with an optional mode."""

    fifths: int
    mode: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fifths": self.fifths}
        if self.mode is not None:
            out["mode"] = self.mode
        return out

    @classmethod
    def from_json(cls, raw: Any) -> KeySignature:
        if not isinstance(raw, dict):
            raise SchemaError(
                "key must be an object like {'fifths': -3, 'mode': 'minor'}", field_name="key"
            )
        try:
            fifths = _int_field(raw, "fifths", 0, -7, 7)
        except SchemaError as exc:
            raise SchemaError(f"key {exc}", field_name="key") from exc
        mode = raw.get("mode")
        if mode is not None and mode not in KEY_MODES:
            raise SchemaError(
                f"key mode {mode!r} is not one of {sorted(KEY_MODES)}", field_name="key"
            )
        return cls(fifths, mode)


@dataclass(frozen=True, slots=True)
class Tempo:
    """A metronome mark: ``bpm`` beats of ``beat`` quarter notes per minute, with text."""

    bpm: float
    beat: Fraction = Fraction(1)
    text: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bpm": self.bpm, "beat": format_fraction(self.beat)}
        if self.text is not None:
            out["text"] = self.text
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Tempo:
        if not isinstance(raw, dict):
            raise SchemaError(
                "tempo must be an object like {'bpm': 96, 'beat': '1'}", field_name="tempo"
            )
        bpm = normalise_number(raw.get("bpm"))
        if isinstance(bpm, bool) or not isinstance(bpm, int | float) or not 1 <= bpm <= 1000:
            raise SchemaError(
                f"tempo bpm must be a number from 1 to 1000, got {bpm!r}", field_name="tempo"
            )
        beat = parse_fraction(raw.get("beat", "1"), "tempo")
        if beat <= 0:
            raise SchemaError("tempo beat must be positive", field_name="tempo")
        try:
            text = _str_field(raw, "text", max_length=200)
        except SchemaError as exc:
            raise SchemaError(f"tempo {exc}", field_name="tempo") from exc
        return cls(bpm, beat, text)


@dataclass(frozen=True, slots=True)
class ChordSymbol:
    """A chord symbol of a lead sheet (version 4), anchored to a part at an onset of its
    measure: ``root`` (a step with accidentals, no octave), ``kind`` (MusicXML's names),
    an optional ``bass`` and added, altered or removed ``degrees`` (``(type, value,
    alter)``), and the ``text`` as written ("Cmaj7", "C△")."""

    part: str
    onset: Fraction
    root: str | None
    kind: str = "major"
    bass: str | None = None
    text: str | None = None
    degrees: tuple[tuple[str, int, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"part": self.part, "onset": format_fraction(self.onset)}
        if self.root is not None:
            out["root"] = self.root
        out["kind"] = self.kind
        if self.bass is not None:
            out["bass"] = self.bass
        if self.text is not None:
            out["text"] = self.text
        if self.degrees:
            out["degrees"] = [
                {"type": t, "value": v, **({"alter": a} if a else {})} for t, v, a in self.degrees
            ]
        return out

    @classmethod
    def from_json(cls, raw: Any) -> ChordSymbol:
        known = {"part", "onset", "root", "kind", "bass", "text", "degrees"}
        if not isinstance(raw, dict) or set(raw) - known:
            raise SchemaError(
                f"a chord symbol must be an object with {', '.join(sorted(known))}",
                field_name="chord_symbols",
            )
        raw = {k: v for k, v in raw.items() if v is not None}
        try:
            part = _str_field(raw, "part", required=True, max_length=64)
            onset = parse_fraction(raw.get("onset", "0"), "onset")
            text = _str_field(raw, "text", max_length=100)
        except SchemaError as exc:
            raise SchemaError(f"chord symbol {exc}", field_name="chord_symbols") from exc
        kind, root, bass = raw.get("kind", "major"), raw.get("root"), raw.get("bass")
        problem = (
            "onset is negative"
            if onset < 0
            else f"kind {kind!r} is unknown"
            if kind not in CHORD_KINDS
            else "needs a root (a step like 'C', 'F#', 'B-')"
            if root is None and kind != "none"
            else "root and bass must be steps like 'C', 'F#', 'B-'"
            if any(
                v is not None and (not isinstance(v, str) or not _STEP_RE.match(v))
                for v in (root, bass)
            )
            else None
        )
        if problem is not None:
            raise SchemaError(f"chord symbol {problem}", field_name="chord_symbols")
        degrees_raw = raw.get("degrees", [])
        degrees: list[tuple[str, int, int]] = []
        if not isinstance(degrees_raw, list) or len(degrees_raw) > 8:
            degrees_raw = None
        for degree in degrees_raw or []:
            try:
                if not isinstance(degree, dict) or degree.get("type") not in DEGREE_TYPES:
                    raise SchemaError("type")
                degrees.append(
                    (
                        degree["type"],
                        _int_field(degree, "value", 0, 1, 13),
                        _int_field(degree, "alter", 0, -2, 2),
                    )
                )
            except SchemaError:
                degrees_raw = None
                break
        if degrees_raw is None:
            raise SchemaError(
                "chord symbol degrees must be at most 8 of {type: add|alter|subtract, "
                "value: 1-13, alter: -2..2}",
                field_name="chord_symbols",
            )
        assert part is not None
        return cls(part, onset, root, kind, bass, text, tuple(degrees))


@dataclass(frozen=True, slots=True)
class Measure:
    """A measure column shared by all parts; attributes are set only where they change."""

    id: str
    time: str | None = None
    key: KeySignature | None = None
    tempo: Tempo | None = None
    barline: str | None = None
    repeat: str | None = None
    pickup: bool = False
    chord_symbols: tuple[ChordSymbol, ...] = ()  # version 4, ordered by part and onset

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.time is not None:
            out["time"] = self.time
        if self.key is not None:
            out["key"] = self.key.to_json()
        if self.tempo is not None:
            out["tempo"] = self.tempo.to_json()
        if self.barline is not None:
            out["barline"] = self.barline
        if self.repeat is not None:
            out["repeat"] = self.repeat
        if self.pickup:
            out["pickup"] = True
        if self.chord_symbols:
            out["chord_symbols"] = [c.to_json() for c in self.chord_symbols]
        return out

    @classmethod
    def from_json(cls, raw: Any) -> Measure:
        if not isinstance(raw, dict):
            raise SchemaError("measure must be a map")
        raw = {k: v for k, v in raw.items() if v is not None}
        measure_id = _str_field(raw, "id", required=True, max_length=64)
        time = raw.get("time")
        barline = raw.get("barline")
        if barline is not None and barline not in BARLINE_TYPES:
            raise SchemaError(
                f"barline {barline!r} is not one of {sorted(BARLINE_TYPES)}", field_name="barline"
            )
        repeat = raw.get("repeat")
        if repeat is not None and repeat not in REPEAT_TYPES:
            raise SchemaError(f"repeat {repeat!r} is not start, end or both", field_name="repeat")
        pickup = raw.get("pickup", False)
        if not isinstance(pickup, bool):
            raise SchemaError("pickup must be true or false", field_name="pickup")
        assert measure_id is not None
        return cls(
            id=measure_id,
            time=None if time is None else check_time_signature(time),
            key=None if raw.get("key") is None else KeySignature.from_json(raw["key"]),
            tempo=None if raw.get("tempo") is None else Tempo.from_json(raw["tempo"]),
            barline=barline,
            repeat=repeat,
            pickup=pickup,
            chord_symbols=_chord_symbols(raw),
        )


def _chord_symbols(raw: dict[str, Any]) -> tuple[ChordSymbol, ...]:
    value = raw.get("chord_symbols", [])
    if not isinstance(value, list) or len(value) > MAX_CHORD_SYMBOLS:
        raise SchemaError(
            f"chord_symbols must be a list of at most {MAX_CHORD_SYMBOLS} chord symbols",
            field_name="chord_symbols",
        )
    return tuple(ChordSymbol.from_json(v) for v in value)


@dataclass(frozen=True, slots=True)
class Part:
    """An instrument part (a staff, or a group of staves)."""

    id: str
    name: str = ""
    abbreviation: str | None = None
    instrument: str | None = None
    program: int | None = None
    clef: str | None = None
    staves: int = 1
    clefs: tuple[str, ...] = ()  # version 3: the opening clef of each staff, top down

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "staves": self.staves}
        for name in ("abbreviation", "instrument", "program", "clef"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.clefs:
            out["clefs"] = list(self.clefs)
        return out

    def clef_of(self, staff: int) -> str | None:
        """The opening clef of staff ``staff`` (from 1): ``clefs``, else ``clef`` for the
        first staff and bass for the others of a multi-staff part (a piano's left hand)."""
        if staff <= len(self.clefs):
            return self.clefs[staff - 1]
        if self.staves == 1:
            return self.clef if staff == 1 else None
        return self.clef or "treble" if staff == 1 else "bass"

    @classmethod
    def from_json(cls, raw: Any) -> Part:
        if not isinstance(raw, dict):
            raise SchemaError("part must be a map")
        raw = {k: v for k, v in raw.items() if v is not None}
        part_id = _str_field(raw, "id", required=True, max_length=64)
        clef = raw.get("clef")
        if clef is not None and clef not in CLEFS:
            raise SchemaError(f"clef {clef!r} is not one of {sorted(CLEFS)}", field_name="clef")
        program = normalise_number(raw.get("program"))
        if program is not None and (not isinstance(program, int) or not 0 <= program <= 127):
            raise SchemaError("program must be a MIDI program from 0 to 127", field_name="program")
        clefs = raw.get("clefs", [])
        if not isinstance(clefs, list) or len(clefs) > 4 or any(c not in CLEFS for c in clefs):
            raise SchemaError(
                f"clefs must be a list of at most 4 of {sorted(CLEFS)}", field_name="clefs"
            )
        assert part_id is not None
        return cls(
            id=part_id,
            name=_str_field(raw, "name", max_length=200) or "",
            abbreviation=_str_field(raw, "abbreviation", max_length=50),
            instrument=_str_field(raw, "instrument", max_length=200),
            program=program,
            clef=clef,
            staves=_int_field(raw, "staves", 1, 1, 4),
            clefs=tuple(clefs),
        )


@dataclass(frozen=True, slots=True)
class Meta:
    """Score-wide metadata."""

    title: str = ""
    composer: str = ""
    schema_version: int = SCHEMA_VERSION
    created: str | None = None
    tempo: Tempo | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Meta:
        known = {"title", "composer", "schema_version", "created", "tempo"}
        tempo_raw = raw.get("tempo")
        title, composer = raw.get("title", ""), raw.get("composer", "")
        version = normalise_number(raw.get("schema_version", SCHEMA_VERSION))
        return cls(
            title=clean_text(title if isinstance(title, str) else str(title)),
            composer=clean_text(composer if isinstance(composer, str) else str(composer)),
            schema_version=version if isinstance(version, int) else SCHEMA_VERSION,
            created=raw.get("created") if isinstance(raw.get("created"), str) else None,
            tempo=Tempo.from_json(tempo_raw) if isinstance(tempo_raw, dict) else None,
            extra={k: v for k, v in raw.items() if k not in known},
        )
