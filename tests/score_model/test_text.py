"""Stored text has no control characters: the rule, and every way text gets into a
score (the edit API, a client writing the Yjs document directly, imports)."""

from __future__ import annotations

import json

import pytest

from score_model.content import ScoreContent, write_content
from score_model.document import ScoreDoc
from score_model.json_codec import export_json, import_json
from score_model.ops import EditError, ScoreEditor
from score_model.origin import Origin
from score_model.schema import Part
from score_model.text import clean_text, control_characters

HOSTILE = "A\x00B\x07C\x1b[31mD\x7fE\x85F\u202eG\u2066H"


def test_one_line_text_loses_every_control_character() -> None:
    assert clean_text(HOSTILE) == "ABC[31mDEFGH"
    assert clean_text("two\nlines\tand\r\na tab") == "two lines and a tab"
    assert clean_text("\ud800lone surrogate") == "lone surrogate"
    for honest in (
        "Chorale",
        "Élégie — op. 12",
        "Dvořák",
        "猫ふんじゃった",
        "👩‍🎤 zwj",
        "a\u200cb",
    ):
        assert clean_text(honest) == honest  # accents, CJK, emoji sequences stay


def test_multi_line_text_keeps_tabs_and_line_feeds() -> None:
    assert (
        clean_text("line 1\r\nline 2\rline 3\n\tindented\x00", multiline=True)
        == "line 1\nline 2\nline 3\n\tindented"
    )


def test_control_characters_names_what_it_finds() -> None:
    assert control_characters("ok") == []
    assert control_characters("a\x00b\x1b") == ["U+0000", "U+001B"]
    assert control_characters("a\nb") == ["U+000A"]
    assert control_characters("a\nb", multiline=True) == []


def new_score() -> tuple[ScoreDoc, ScoreEditor, dict[str, list[str]]]:
    score = ScoreDoc()
    editor = ScoreEditor(score, Origin.agent("test"))
    ids = editor.create_score(title="t", parts=["Soprano"], measures=2)
    return score, editor, ids


def test_the_edit_api_stores_clean_text() -> None:
    score, editor, ids = new_score()
    measure, part = ids["measures"][0], ids["parts"][0]
    editor.set_metadata(title="\x00Chorale\x1b", composer="J.\u202eS. Bach")
    editor.update_part(part, name="Sop\x07rano", abbreviation="S\x00.")
    other = editor.add_part("Alto\x00\n")
    note = editor.add_note(measure, part, 0, "1/4", "C4", lyric="la\x00")
    editor.set_tempo(measure, 80, text="Andante\x08")
    editor.post_chat("ann\x1b", "hello\x00\nworld")
    editor.add_comment("bob", "fix\r\nthis\x07", measure=measure)
    assert score.raw_meta()["title"] == "Chorale"
    assert score.raw_meta()["composer"] == "J.S. Bach"
    names = {p["id"]: p["name"] for p in score.raw_parts()}
    assert names[part] == "Soprano" and names[other] == "Alto "
    assert score.notes[note]["lyric"] == "la"
    data = score.read()
    assert data.measures[0].tempo is not None and data.measures[0].tempo.text == "Andante"
    assert score.raw_chat()[-1]["text"] == "hello\nworld"
    assert score.raw_chat()[-1]["author"] == "ann"
    [comment] = score.raw_comments().values()
    assert comment["text"] == "fix\nthis"
    with pytest.raises(EditError):
        editor.post_chat("ann", "\x00\x01")  # nothing left: refused like an empty text


def test_text_a_client_wrote_directly_is_read_clean() -> None:
    """A y-websocket client can put anything into the document; readers (exports,
    analyses, REST) see it without control characters."""
    score, _, _ = new_score()
    score.meta["title"] = "\x00evil\x1b]0;title\x07"
    score.parts[0]["name"] = "Bass\x00"
    data = score.read()
    assert data.meta.title == "evil]0;title"
    assert data.parts[0].name == "Bass"
    assert not [p for p in data.problems if "name" in p.message]


def test_imports_store_clean_text() -> None:
    content = ScoreContent(
        {"title": "Imported\x00", "tempo": {"bpm": 60, "text": "x\x07"}},
        [Part("p1", name="Vio\x1blin", instrument="v\x00")],
        [],
        [],
    )
    score = write_content(content)
    assert score.raw_meta()["title"] == "Imported"
    assert score.raw_meta()["tempo"]["text"] == "x"
    assert score.parts[0]["name"] == "Violin" and score.parts[0]["instrument"] == "v"

    source, editor, _ = new_score()
    editor.post_chat("ann", "hi")
    exported = json.loads(export_json(source))
    exported["chat"][0]["text"] = "hi\x00\nthere\x1b"
    exported["meta"]["title"] = "T\x00"
    exported["parts"][0]["name"] = "P\x07"
    imported = import_json(json.dumps(exported).encode())
    assert imported.raw_chat()[0]["text"] == "hi\nthere"
    assert imported.raw_meta()["title"] == "T"
    assert imported.parts[0]["name"] == "P"
