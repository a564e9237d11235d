"""Roman numeral figures of labelled chords in a key, spelled by music21.

A figure depends only on the chord's position relative to the key: the scale degree of its
spelled root, the root's alteration from the major scale, the quality, the inversion and the
mode. music21's ``romanNumeralFromChord`` is called once per such combination (on the chord
transposed to C), so a whole score costs a few dozen calls, not one per chord.

On top of music21's figures, chromatic major and dominant-seventh chords a fifth above a
diatonic triad, and diminished chords a semitone below one, are named as applied chords
(``V7/V``, ``viio7/ii``), as analysts write them, and a dominant seventh on the lowered
sixth degree is the German augmented sixth (``Ger65``; ``It6`` without its fifth), not
music21's ``VIb753``. Given the next chord, two names in minor keys follow it: the subtonic
going to the relative major is ``V/III``, and the raised sixth's diminished chords are
``viø7`` unless ``VII`` follows.

Reference: D. Tymoczko, M. Gotham, M. S. Cuthbert and C. Ariza, "The RomanText format: a
flexible and standard method for representing Roman numeral analyses", ISMIR 2019.
"""

from __future__ import annotations

import re
from functools import lru_cache

from analysis_engine.chords import NO_QUALITY, QUALITIES, QUALITY_INDEX
from analysis_engine.units import STEP_PC, STEPS, parse_pitch

MAJOR_SCALE = STEP_PC
NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
TRIAD_FIGURES = ("", "6", "64")
SEVENTH_FIGURES = ("7", "65", "43", "42")
_DIATONIC_NUMERALS = {
    "major": ("I", "ii", "iii", "IV", "V", "vi", "viio"),
    "minor": ("i", "iio", "III", "iv", "V", "VI", "VII"),
}
_NUMERAL = re.compile(r"^([b#]*(?:iii|ii|iv|vii|vi|v|i|III|II|IV|VII|VI|V|I)[o+ø]?)")
_DOMINANTS = (QUALITY_INDEX["major"], QUALITY_INDEX["dominant-seventh"])
# a dominant seventh on the lowered sixth degree by its bass (root, third, fifth, seventh):
# the German sixth, or the Italian without its fifth (RomanText's names, as music21 reads them)
_AUGMENTED_SIXTHS = {
    True: ("Ger65", "Ger43", "Ger42", "Ger7"),
    False: ("It6", "It64", "Ger42", "It53"),  # over its fifth, the fifth sounds
}
_LEADING = {
    QUALITY_INDEX["diminished"]: "viio",
    QUALITY_INDEX["diminished-seventh"]: "viio",
    QUALITY_INDEX["half-diminished"]: "viiø",
}


def figure(
    root_name: str,
    quality: int,
    inversion: int,
    tonic: str,
    mode: str,
    fifth: bool = True,
    then: tuple[str, int] | None = None,
) -> str | None:
    """The Roman numeral of a chord (spelled root such as ``"F#"``, quality index,
    inversion) in a key (tonic such as ``"E-"``, ``"major"``/``"minor"``); ``fifth`` says
    whether the chord's fifth sounds (an Italian sixth is a German one without it) and
    ``then`` is the next different chord (spelled root, quality), when known."""
    if quality == NO_QUALITY or inversion < 0:
        return None
    degree, alteration = _relative(root_name, tonic)
    following = None
    if then is not None and mode == "minor" and then[1] != NO_QUALITY:  # see _in_context
        following = (*_relative(then[0], tonic), then[1])
    return relative_figure(degree, alteration, quality, inversion, mode, fifth, following)


@lru_cache(maxsize=1024)
def _relative(root_name: str, tonic: str) -> tuple[int, int]:
    """A spelled root's scale degree from a tonic and its alteration from the major scale."""
    _, root_letter, root_alter = parse_pitch(root_name + "4")
    _, tonic_letter, tonic_alter = parse_pitch(tonic + "4")
    degree = (root_letter - tonic_letter) % 7
    root_pc = (STEP_PC[root_letter] + root_alter) % 12
    tonic_pc = (STEP_PC[tonic_letter] + tonic_alter) % 12
    return degree, (root_pc - tonic_pc - MAJOR_SCALE[degree] + 6) % 12 - 6


@lru_cache(maxsize=16384)
def relative_figure(
    degree: int,
    alteration: int,
    quality: int,
    inversion: int,
    mode: str,
    fifth: bool = True,
    then: tuple[int, int, int] | None = None,
) -> str | None:
    """The figure of a chord on ``degree`` (0 = tonic) altered by ``alteration`` semitones
    from the major scale; ``then`` is the next chord's degree, alteration and quality."""
    if quality == _DOMINANTS[1] and (degree, alteration) == (5, -1):
        return _AUGMENTED_SIXTHS[fifth][inversion]
    applied = _applied(degree, alteration, quality, inversion, mode)
    if then is not None:
        named = _in_context(degree, alteration, quality, inversion, mode, applied, then)
        if named is not None:
            return named
    return (
        applied
        if applied is not None
        else _music21_figure(degree, alteration, quality, inversion, mode)
    )


def warm_figures(alterations: tuple[int, ...] = (-1, 0, 1)) -> int:
    """Fill the figure cache for every chord on every degree (about 4 s of music21 work):
    a worker can call this once at start-up so no edit waits for music21. Returns the
    number of figures cached."""
    count = 0
    for mode in ("major", "minor"):
        for degree in range(7):
            for alteration in alterations:
                for quality, (_, intervals) in enumerate(QUALITIES):
                    for inversion in range(len(intervals)):
                        relative_figure(degree, alteration, quality, inversion, mode)
                        count += 1
    return count


def _in_context(
    degree: int,
    alteration: int,
    quality: int,
    inversion: int,
    mode: str,
    applied: str | None,
    then: tuple[int, int, int],
) -> str | None:
    """A figure named by the chord that follows, or None for the context-free one. Two
    habits of analysts in minor keys: the subtonic triad or seventh going to the relative
    major is its dominant (``V/III``, not ``VII``); a diminished or half-diminished chord
    on the raised sixth degree is ``viø7``, not ``viiø7/VII``, unless it goes to ``VII``."""
    if mode != "minor":
        return None
    next_degree, next_alteration, _ = then
    next_pc = (MAJOR_SCALE[next_degree] + next_alteration) % 12
    root_pc = (MAJOR_SCALE[degree] + alteration) % 12
    if applied is not None:
        if quality in _LEADING and (degree + 1) % 7 == 6 and next_pc != NATURAL_MINOR[6]:
            return _music21_figure(degree, alteration, quality, inversion, mode)
        return None
    if (
        quality in _DOMINANTS
        and root_pc == NATURAL_MINOR[6]
        and (next_degree, next_pc) == (2, NATURAL_MINOR[2])
    ):
        return f"V{_inversion_figure(quality, inversion)}/III"
    return None


def _inversion_figure(quality: int, inversion: int) -> str:
    figures = SEVENTH_FIGURES if len(QUALITIES[quality][1]) == 4 else TRIAD_FIGURES
    return figures[min(inversion, len(figures) - 1)]


def _applied(degree: int, alteration: int, quality: int, inversion: int, mode: str) -> str | None:
    scale = MAJOR_SCALE if mode == "major" else NATURAL_MINOR
    root_pc = (MAJOR_SCALE[degree] + alteration) % 12
    numerals = _DIATONIC_NUMERALS[mode]
    if quality in _DOMINANTS:
        target = (degree - 4) % 7
        diatonic = root_pc == scale[degree] and _is_diatonic(degree, quality, mode)
        if diatonic or root_pc != (scale[target] + 7) % 12:
            return None
        if mode == "minor" and (target == 6 or (degree == 0 and quality == _DOMINANTS[0])):
            return None  # F major in c is IV (melodic minor); C major in c is a Picardy I
        prefix = "V"
    elif quality in _LEADING:
        target = (degree + 1) % 7
        if root_pc != (scale[target] - 1) % 12 or target == 0:
            return None
        if mode == "minor" and degree == 1 and root_pc == scale[1]:
            return None  # ii and iiø7 of the minor scale
        prefix = _LEADING[quality]
    else:
        return None
    target_numeral = numerals[target]
    if target == 0 or target_numeral.endswith("o"):
        return None
    return f"{prefix}{_inversion_figure(quality, inversion)}/{target_numeral}"


def _is_diatonic(degree: int, quality: int, mode: str) -> bool:
    if quality == QUALITY_INDEX["dominant-seventh"]:
        return degree == 4
    return degree in ((0, 3, 4) if mode == "major" else (2, 4, 5, 6))


@lru_cache(maxsize=4096)
def _music21_figure(
    degree: int, alteration: int, quality: int, inversion: int, mode: str
) -> str | None:
    from music21 import chord as m21chord
    from music21 import key as m21key
    from music21 import roman as m21roman

    intervals = QUALITIES[quality][1]
    root_pc = (MAJOR_SCALE[degree] + alteration) % 12
    members = []
    for position, interval in enumerate(intervals):
        letter = (degree + 2 * position) % 7
        pc = (root_pc + interval) % 12
        alter = (pc - STEP_PC[letter] + 6) % 12 - 6
        members.append((letter, alter, pc))
    bass_index = min(inversion, len(members) - 1)
    ordered = members[bass_index:] + members[:bass_index]
    names: list[str] = []
    midi = 47
    for letter, alter, pc in ordered:
        midi += (pc - midi) % 12 or (12 if names else 0)
        octave = (midi - STEP_PC[letter] - alter) // 12 - 1
        names.append(STEPS[letter] + ("#" * alter if alter > 0 else "-" * -alter) + str(octave))
    try:
        numeral = m21roman.romanNumeralFromChord(
            m21chord.Chord(names), m21key.Key("C" if mode == "major" else "c")
        )
    except Exception:  # music21 raises assorted errors on odd chords; no figure then
        return None
    text = str(numeral.figure)
    if mode == "minor" and alteration == -1 and text.startswith("b") and degree in (2, 5, 6):
        text = text[1:]  # music21 writes bVI for the minor scale's own VI
    return _plain(text, names, mode, _inversion_figure(quality, inversion))


def _plain(text: str, names: list[str], mode: str, inversion_figure: str) -> str:
    """Drop cautionary accidentals music21 adds (``V75#3`` is ``V7`` in minor) when the
    plain figure means the same chord over the same bass."""
    from music21 import key as m21key
    from music21 import roman as m21roman

    match = _NUMERAL.match(text)
    if match is None:
        return text
    plain = match.group(1) + inversion_figure
    if plain == text:
        return text
    try:
        candidate = m21roman.RomanNumeral(plain, m21key.Key("C" if mode == "major" else "c"))
        same = {p.pitchClass for p in candidate.pitches} == {
            parse_pitch(n)[0] % 12 for n in names
        } and candidate.bass().pitchClass == parse_pitch(names[0])[0] % 12
    except Exception:  # an unparsable candidate: keep music21's own figure
        return text
    return plain if same else text
