"""Personas as data files, @mentions, and how the offline brain reads an instruction."""

from __future__ import annotations

import pytest

from agents.brains.offline import choose_ability, interval_of
from agents.mentions import bar_range, find_mention, measures_of
from agents.personas import Persona, get_persona, load_personas
from agents.reading import read_measures
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from tests.agents.chorale import write_chorale


def test_the_four_personas_ship_as_data() -> None:
    personas = load_personas()
    assert set(personas) == {"mia", "miette", "jeremyai", "aureon"}
    assert [p.writes for p in personas.values()] == [True, True, False, False]
    assert personas["aureon"].default_ability == "harmonise"
    assert not personas["mia"].writes and "analyse" in personas["mia"].abilities
    assert all(p.color.startswith("#") and p.voice for p in personas.values())


def test_a_new_persona_needs_only_a_file(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    (folder / "bach.toml").write_text(
        'name = "bach"\ncolor = "#000000"\nrole = "Cantor"\nvoice = "Terse."\n'
        'abilities = ["harmonise", "explain"]\n',
        encoding="utf-8",
    )
    personas = load_personas(folder)
    assert get_persona("@Bach", personas).abilities == {"harmonise", "explain"}
    with pytest.raises(ValueError):
        Persona.from_toml(
            'name = "x"\ncolor = "#1"\nrole = "r"\nvoice = "v"\nabilities = ["fly"]\n'
        )


def test_mentions_and_bar_ranges() -> None:
    personas = load_personas()
    mention = find_mention("@aureon harmonise bars 1-8", personas)
    assert mention is not None and mention.persona.name == "aureon"
    assert mention.instruction == "harmonise bars 1-8" and mention.bars == (1, 8)
    assert find_mention("thanks @Mia, why m. 4?", personas).bars == (4, 4)  # type: ignore[union-attr]
    assert find_mention("mail me at ada@mia.org", personas) is None
    assert find_mention("@nobody hello", personas) is None
    assert find_mention("@miette", personas).instruction == "explain"  # type: ignore[union-attr]
    assert bar_range("measures 5 to 3") == (3, 5)
    assert measures_of((2, 3), [(1, "a"), (2, "b"), (3, "c"), (4, "d")]) == ("b", "c")


def test_the_offline_brain_reads_the_instruction() -> None:
    personas = load_personas()
    assert choose_ability(personas["aureon"], "please harmonise this") == "harmonise"
    assert choose_ability(personas["aureon"], "transpose up a major third") == "transpose"
    assert choose_ability(personas["jeremyai"], "write a bass line") == "bass"
    assert choose_ability(personas["jeremyai"], "a countermelody please") == "countermelody"
    assert choose_ability(personas["jeremyai"], "go on") == "continue"
    assert choose_ability(personas["mia"], "why is bar 4 a cadence?") == "analyse"
    assert choose_ability(personas["miette"], "what is a chord?") == "explain"
    assert interval_of("up a major third") == "M3"
    assert interval_of("down a perfect fifth") == "-P5"
    assert interval_of("by m3") == "m3"


def test_a_compact_reading_of_measures() -> None:
    score = ScoreDoc()
    ids = write_chorale(ScoreEditor(score), bars=2)
    text = read_measures(score.read())
    first, second = text.splitlines()
    assert first.startswith(f"m1 ({ids['measures'][0]}) 4/4 key 1#")
    assert "Soprano: G4 1, A4 1, B4 1, G4 1" in first and "Alto: -" in first
    assert read_measures(score.read(), [ids["measures"][1]]) == second
