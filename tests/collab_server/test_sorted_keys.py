"""Updates rewritten with every object's keys in one order: the same content for pycrdt
and for the real ``yjs`` (a Node peer), one key order per shape of note."""

from __future__ import annotations

from typing import Any

import pytest
from pycrdt import Doc

from collab_server.sync.sorted_keys import sort_keys
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.score_model.test_yjs_interop import JsPeer, js  # noqa: F401 (the fixture)


def score_with_notes(count: int) -> ScoreDoc:
    score = ScoreDoc()
    editor = ScoreEditor(score, Origin.agent("test"))
    ids = editor.create_score(title="Keys", parts=[{"name": "Violin"}, {"name": "Cello"}])
    for i in range(count):
        fields = {"lyric": f"la-{i}"} if i % 3 == 0 else {}
        editor.add_note(
            ids["measures"][i % 4],
            ids["parts"][i % 2],
            f"{i % 4}",
            "1",
            ["C4", "E4"][: 1 + i % 2],
            **fields,
        )
    return score


def roots(update: bytes) -> dict[str, Any]:
    score = ScoreDoc.from_update(update)
    return {"meta": score.raw_meta(), "parts": score.raw_parts(), "notes": score.raw_notes()}


def test_the_rewrite_keeps_the_content_for_pycrdt() -> None:
    update = score_with_notes(120).encode_state()
    rewritten = sort_keys(update)
    assert len(rewritten) == len(update)
    assert roots(rewritten) == roots(update)


@pytest.mark.node
def test_yjs_reads_each_shape_of_note_with_its_keys_in_one_order(js: JsPeer) -> None:
    update = score_with_notes(120).encode_state()
    js.reset_to(sort_keys(update))
    notes = js.call("dump")["notes"]
    assert len(notes) == 120
    orders: dict[frozenset[str], set[tuple[str, ...]]] = {}
    for note in notes.values():
        orders.setdefault(frozenset(note), set()).add(tuple(note))
    assert len(orders) >= 2  # notes with and without a lyric
    assert all(len(seen) == 1 for seen in orders.values())
    assert js.call("dump")["notes"] == roots(update)["notes"]


def test_the_same_document_encoded_twice_is_rewritten_to_the_same_bytes() -> None:
    first = score_with_notes(60).encode_state()
    again: Doc = Doc()
    again.apply_update(first)
    assert sort_keys(again.get_update()) == sort_keys(first)


def test_a_diff_is_rewritten_too_and_a_malformed_update_comes_back_as_it_is() -> None:
    score = score_with_notes(10)
    base = score.encode_state()
    vector = score.doc.get_state()
    editor = ScoreEditor(score, Origin.agent("test"))
    editor.set_metadata(title="Later", composer="Someone")
    diff = score.doc.get_update(vector)
    assert roots(_applied(base, sort_keys(diff))) == roots(_applied(base, diff))
    assert roots(_applied(base, sort_keys(diff)))["meta"]["title"] == "Later"
    for junk in (b"", b"\x01", b"\x01\x02\x03garbage", bytes(range(256))):
        assert sort_keys(junk) == junk


def _applied(state: bytes, diff: bytes) -> bytes:
    doc: Doc = Doc()
    doc.apply_update(state)
    doc.apply_update(diff)
    return doc.get_update()
