"""The score schema against the real JavaScript ``yjs`` library.

A Node process (``tests/node/schema_interop.mjs``) holds one ``Y.Doc`` and edits it with
the helpers in ``tests/node/schema.mjs`` (the code ``docs/score-schema.md`` cites). Yjs
updates travel between it and pycrdt as base64 in JSON lines over stdin/stdout.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from score_model import schema
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from score_model.schema import (
    SCHEMA_VERSION,
    ChordSymbol,
    KeySignature,
    Note,
    Part,
    Tempo,
    Tuplet,
    format_fraction,
)
from score_model.validation import validate

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tests" / "node"
SCHEMA_DOC = REPO / "docs" / "score-schema.md"
PEER_SCRIPT = NODE_DIR / "schema_interop.mjs"
REPLY_TIMEOUT = 30.0

pytestmark = pytest.mark.node


class JsPeer:
    """A Node process with one ``Y.Doc``, driven by one JSON request and reply per line."""

    def __init__(self) -> None:
        node = shutil.which("node")
        assert node, "Node.js is required for the yjs interoperability tests"
        self.proc = subprocess.Popen(
            [node, str(PEER_SCRIPT)],
            cwd=NODE_DIR,
            bufsize=0,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._buffer = b""

    def call(self, cmd: str, **args: Any) -> Any:
        """Send a command; return its reply, failing the test on an error or a timeout."""
        reply = self.raw_call(cmd, **args)
        assert "error" not in reply, f"JS peer failed on {cmd}: {reply['error']}"
        return reply

    def raw_call(self, cmd: str, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], REPLY_TIMEOUT)
            assert ready, f"JS peer gave no reply to {cmd} within {REPLY_TIMEOUT} s"
            chunk = os.read(fd, 1 << 16)
            assert chunk, f"JS peer exited: {self._stderr()}"
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def reset_to(self, update: bytes, client_id: int | None = None) -> None:
        self.call("reset", client_id=client_id)
        self.call("apply", update=b64(update))

    def state_vector(self) -> bytes:
        return unb64(self.call("state_vector")["state_vector"])

    def encode(self, state_vector: bytes | None = None) -> bytes:
        sv = None if state_vector is None else b64(state_vector)
        return unb64(self.call("encode", state_vector=sv)["update"])

    def _stderr(self) -> str:
        assert self.proc.stderr is not None
        self.proc.wait(timeout=5)
        return self.proc.stderr.read().decode(errors="replace")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def js() -> Iterator[JsPeer]:
    peer = JsPeer()
    try:
        yield peer
    finally:
        peer.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def normalised(note: Note) -> dict[str, Any]:
    """A note with every default filled in: what ``readNote`` in schema.mjs returns."""
    return {
        "id": note.id,
        "measure": note.measure,
        "part": note.part,
        "voice": note.voice,
        "staff": note.staff,
        "onset": format_fraction(note.onset),
        "duration": format_fraction(note.duration),
        "pitches": list(note.pitches),
        "ties": [note.tie_of(i) for i in range(len(note.pitches))],
        "lyric": note.lyric,
        "articulations": list(note.articulations),
        "dynamic": note.dynamic,
        "grace": note.grace,
        "slurs": list(note.slurs),
        "hairpins": list(note.hairpins),
        "ornaments": list(note.ornaments),
        "fingerings": list(note.fingerings),
        "verses": list(note.verses),
        "tuplets": [
            {
                "id": t.id,
                "actual": t.actual,
                "normal": t.normal,
                "unit": None if t.unit is None else format_fraction(t.unit),
                "bracket": t.bracket,
                "number": t.number,
            }
            for t in note.tuplets
        ],
    }


def py_dump(score: ScoreDoc) -> dict[str, Any]:
    """Every root as JSON, as pycrdt sees it (compare with the peer's ``dump``)."""
    roots = {
        "meta": score.meta,
        "parts": score.parts,
        "measures": score.measures,
        "notes": score.notes,
        "chat": score.chat,
        "comments": score.comments,
        "suggestions": score.suggestions,
    }
    return {name: json.loads(str(root)) for name, root in roots.items()}


def exchange(score: ScoreDoc, js: JsPeer) -> None:
    """Send each side the updates it lacks, as two y-websocket peers would."""
    js_missing = score.doc.get_update(js.state_vector())
    py_missing = js.encode(score.doc.get_state())
    score.doc.apply_update(py_missing)
    js.call("apply", update=b64(js_missing))


def decode_state_vector(data: bytes) -> dict[int, int]:
    """Client id -> clock from an encoded Yjs state vector (entry order is unspecified)."""
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value = shift = 0
    count, pairs = values[0], values[1:]
    assert len(pairs) == 2 * count
    return dict(zip(pairs[::2], pairs[1::2], strict=True))


def problem_summary(score: ScoreDoc) -> set[tuple[str, str | None, str | None, str]]:
    return {(p.code, p.measure, p.part, p.severity) for p in validate(score)}


# --- (a) Python writes, JavaScript reads ------------------------------------------------------


def test_js_reads_a_score_built_by_python(js: JsPeer) -> None:
    score = ScoreDoc()
    ed = ScoreEditor(score, Origin.agent("interop-test"))
    ids = ed.create_score(
        title='Sonata «Interop» "No. 1"',
        composer="Py Thon",
        parts=[
            {
                "name": "Violin",
                "abbreviation": "Vln.",
                "instrument": "Violin",
                "program": 40,
                "clef": "treble",
            },
            {"name": "Piano", "staves": 2, "program": 0},
        ],
        measures=3,
        time="3/4",
        key=KeySignature(1, "major"),
        tempo=Tempo(88, Fraction(1), "Allegretto"),
    )
    m1, m2, m3 = ids["measures"]
    vln, pno = ids["parts"]
    ed.set_tempo(m2, 96.5, "1/2")
    ed.set_repeat(m2, "start")
    ed.set_time_signature(m3, "6/8")
    ed.set_key(m3, -3, "minor")
    ed.set_barline(m3, "final")
    with ed.batch():
        g4 = ed.add_note(m1, vln, 0, "1/2", "G4", dynamic="mf", articulations=["staccato"])
        ed.add_note(m1, vln, "1/2", "1/2", "A4")
        triplet = [
            ed.add_note(m1, vln, 1 + Fraction(i, 3), "1/3", p)
            for i, p in enumerate(["B4", "C5", "D5"])
        ]
        e5 = ed.add_note(m1, vln, 2, 1, "E5", lyric="Ah — “dé”")
        ed.add_slur(triplet[0], e5)
        ed.add_hairpin(g4, e5, "diminuendo")
        ed.set_ornaments(triplet[1], ["mordent"])
        ed.set_fingerings(triplet[1], ["2"])
        ed.set_verse(e5, 2, "Oh")
        ed.set_tie(e5, "start")
        group = ed.set_tuplet(triplet, 3, 2, bracket=False, number="ratio")
        ed.add_chord_figure(m1, vln, 0, "G")
        ed.add_chord_symbol(m1, vln, 2, "D", "dominant", bass="F#", text="7")
        ed.add_note(m2, vln, 0, 1, "E5", ties=["stop"])
        rest = ed.add_rest(m2, vln, 1, 2)
        chord = ed.add_note(m1, pno, 0, 3, ["G3", "B3", "D4"])
        ed.set_tie(chord, "start", pitch_index=1)
        grace = ed.add_note(m1, pno, 0, 0, "F#4", grace=True, voice=2)
        low = ed.add_note(m1, pno, 0, 3, "G2", voice=2, staff=2)
        ed.add_note(
            m2,
            pno,
            0,
            3,
            ["F#3", "B3", "D4"],
            ties=[None, "stop", None],
            articulations=["accent", "fermata"],
            dynamic="ff",
        )
        ed.add_note(m3, pno, 0, "3/2", ["E-3", "G3"])
        ed.add_rest(m3, pno, "3/2", "3/2")
        ed.add_note(m3, vln, 0, 3, "C5", dynamic="pp")
    ed.add_comment("ada", "louder here", measure=m2, part=vln, onset="1/2")
    ed.post_chat("bot", "Transposed ✓ 🎻", kind="agent")
    data = score.read()
    assert data.problems == [] and validate(score) == []

    js.reset_to(score.encode_state())
    got = js.call("read")

    assert got["meta"] == score.raw_meta()
    assert got["meta"]["schema_version"] == SCHEMA_VERSION
    assert got["meta"]["tempo"] == {"bpm": 88, "beat": "1", "text": "Allegretto"}
    assert got["parts"] == score.raw_parts()
    assert got["parts"][1] == {"id": pno, "name": "Piano", "staves": 2, "program": 0}
    assert got["measures"] == score.raw_measures()
    assert got["measures"][0]["chord_symbols"] == [
        {"part": vln, "onset": "0", "root": "G", "kind": "major"},
        {"part": vln, "onset": "2", "root": "D", "kind": "dominant", "bass": "F#", "text": "7"},
    ]
    assert [got["notes"][t]["tuplets"] for t in triplet] == [
        [
            {
                "id": group,
                "actual": 3,
                "normal": 2,
                "unit": "1/2",
                "bracket": False,
                "number": "ratio",
            }
        ]
    ] * 3
    assert got["measures"][1] == {
        "id": m2,
        "tempo": {"bpm": 96.5, "beat": "1/2"},
        "repeat": "start",
    }
    assert got["measures"][2] == {
        "id": m3,
        "time": "6/8",
        "barline": "final",
        "key": {"fifths": -3, "mode": "minor"},
    }
    assert got["notes"] == {note_id: normalised(n) for note_id, n in data.notes.items()}
    assert len(got["notes"]) == 15
    assert got["notes"][chord]["ties"] == [None, "start", None]
    assert got["notes"][e5]["lyric"] == "Ah — “dé”" and got["notes"][e5]["verses"] == ["Oh"]
    assert got["notes"][triplet[0]]["slurs"] == ["start"] and got["notes"][e5]["slurs"] == ["stop"]
    assert got["notes"][g4]["hairpins"] == ["diminuendo"]
    assert got["notes"][triplet[1]]["ornaments"] == ["mordent"]
    assert got["notes"][triplet[1]]["fingerings"] == ["2"]
    assert got["notes"][g4]["articulations"] == ["staccato"]
    assert [got["notes"][t]["onset"] for t in triplet] == ["1", "4/3", "5/3"]
    assert got["notes"][rest]["pitches"] == [] and got["notes"][rest]["ties"] == []
    assert got["notes"][grace]["grace"] is True and got["notes"][grace]["duration"] == "0"
    assert got["notes"][low]["voice"] == 2 and got["notes"][low]["staff"] == 2
    assert got["chat"] == py_dump(score)["chat"]
    assert got["chat"][0]["text"] == "Transposed ✓ 🎻" and got["chat"][0]["kind"] == "agent"
    assert got["comments"] == py_dump(score)["comments"]
    [comment] = got["comments"].values()
    assert comment["measure"] == m2 and comment["onset"] == "1/2" and comment["resolved"] is False
    assert js.call("dump") == py_dump(score)


# --- (b) JavaScript writes, Python reads ------------------------------------------------------


def test_python_reads_a_score_built_by_js(js: JsPeer) -> None:
    built = js.call("build")
    score = ScoreDoc.from_update(js.encode())
    data = score.read()

    assert data.problems == []
    assert validate(score) == []
    js_notes = js.call("read")["notes"]
    assert {note_id: normalised(n) for note_id, n in data.notes.items()} == js_notes
    n = built["notes"]
    assert len(data.notes) == 11

    low = data.notes[n["voice2"]]
    assert score.notes[n["voice2"]]["voice"] == 2.0  # a JS number is a float in pycrdt...
    assert type(low.voice) is int and low.voice == 2  # ...and an int once read
    assert type(low.staff) is int and low.staff == 2
    assert low.onset == Fraction(1, 2) and low.duration == Fraction(1, 2)
    assert Note.from_json(low.id, score.notes[low.id]) == low  # the to_py() path agrees
    assert [data.notes[n[k]].onset for k in ("t1", "t2", "t3")] == [
        0,
        Fraction(1, 3),
        Fraction(2, 3),
    ]
    chord = data.notes[n["chord"]]
    assert chord.pitches == ("B-2", "F3", "D4") and chord.ties == (None, "start", None)
    assert chord.dynamic == "p"
    half = data.notes[n["half"]]
    assert half.lyric == 'Freu — "dé"' and half.articulations == ("tenuto", "accent")
    assert half.ties == ("start",)
    assert half.ornaments == ("trill",) and half.fingerings == ("3",) and half.verses == ("Zwei",)
    t1, t3 = data.notes[n["t1"]], data.notes[n["t3"]]
    assert t1.slurs == ("start",) and t3.slurs == ("stop",)
    assert t1.hairpins == ("crescendo",) and half.hairpins == ("stop",)
    assert data.notes[n["grace"]].grace and data.notes[n["grace"]].duration == 0
    assert {data.notes[n[k]].tuplets for k in ("t1", "t2", "t3")} == {
        (Tuplet(n["tuplet"], 3, 2, Fraction(1, 2), bracket=False, number="ratio"),)
    }
    assert data.notes[n["half"]].tuplets == ()
    assert data.notes[n["rest"]].is_rest
    sloppy = data.notes[n["sloppy"]]  # fractions written as JS numbers are tolerated
    assert (sloppy.onset, sloppy.duration, sloppy.voice) == (0, 3, 1)

    assert data.meta.title == "Gebaut in JS ♪" and data.meta.composer == "Node"
    assert type(data.meta.schema_version) is int and data.meta.schema_version == SCHEMA_VERSION
    assert data.meta.tempo == Tempo(72.5, Fraction(1))
    flute, piano = built["parts"]
    assert data.parts == [
        Part(flute, "Flute", "Fl.", "Flute", 73, "treble", 1),
        Part(piano, "Piano", None, None, 0, None, 2),
    ]
    assert type(data.parts[0].program) is int
    m1, m2 = data.measures
    assert (m1.id, m1.time, m1.key) == (built["measures"][0], "3/4", KeySignature(-2, "major"))
    assert m1.tempo == Tempo(72.5, Fraction(1), "Andante")
    assert (m2.time, m2.barline, m2.repeat) == ("6/8", "final", "end")
    assert [s.bar for s in data.layout()] == [3, 3]
    assert m1.chord_symbols == (
        ChordSymbol(flute, Fraction(0), "B-", "major"),
        ChordSymbol(flute, Fraction(1), "F", "dominant", "A", "7"),
    )

    # Clearing fields from JS (null goes back to the default) stays readable in Python.
    js.call(
        "edit",
        ops=[
            {
                "op": "update_note",
                "note": n["half"],
                "changes": {
                    "lyric": None,
                    "articulations": None,
                    "ties": None,
                    "hairpins": None,
                    "ornaments": None,
                    "fingerings": None,
                    "verses": None,
                },
            }
        ],
    )
    score.doc.apply_update(js.encode(score.doc.get_state()))
    cleared = score.read()
    assert cleared.problems == []
    assert cleared.notes[n["half"]] == Note(
        n["half"], m1.id, flute, Fraction(1), Fraction(2), ("E-5",)
    )


# --- (c) concurrent edits both ways -----------------------------------------------------------


def test_concurrent_edits_from_js_and_python_converge(js: JsPeer) -> None:
    score = ScoreDoc()
    ed = ScoreEditor(score, Origin.agent("interop-test"))
    ids = ed.create_score(title="Both ways", parts=["Violin", "Cello"], measures=4)
    m1, m2, m3, m4 = ids["measures"]
    vln, vc = ids["parts"]
    with ed.batch():
        a = ed.add_note(m1, vln, 0, 2, "C5")
        rest = ed.add_rest(m1, vln, 2, 2)
        b = ed.add_note(m2, vln, 0, 4, "D5")
        ed.add_note(m3, vln, 0, 4, "E5")
        ed.add_note(m4, vln, 0, 4, "F5")
        ed.add_note(m1, vc, 0, 4, "C3")
    js.reset_to(score.encode_state())
    assert js.call("dump") == py_dump(score)

    # JavaScript edits...
    new_measure = js.call(
        "edit",
        ops=[
            {"op": "set_pitches", "note": a, "pitches": ["E5"]},
            {"op": "delete_note", "note": b},
            {"op": "delete_note", "note": rest},
            {"op": "insert_measure", "index": 1},
            {"op": "set_measure", "measure": m3, "name": "time", "value": "3/4"},
        ],
    )["results"][3]
    js_a = js.call("dump")["notes"][a]
    # ...while Python, not yet aware of them, adds notes and transposes everything.
    with ed.batch():
        added = [ed.add_note(m2, vc, i, 1, p) for i, p in enumerate(["G2", "A2", "B2", "C3"])]
    assert ed.transpose("M2") == 9
    py_a = score.notes[a]

    exchange(score, js)

    assert js.call("dump") == py_dump(score)
    assert decode_state_vector(js.state_vector()) == decode_state_vector(score.doc.get_state())
    data = score.read()
    assert js.call("read")["notes"] == {i: normalised(n) for i, n in data.notes.items()}
    assert [m.id for m in data.measures] == [m1, new_measure, m2, m3, m4]
    assert data.measures[3].time == "3/4"
    # A note is one value: the concurrent pitch change and transposition do not mix.
    assert score.notes[a] in (js_a, py_a)
    assert data.notes[a].pitches in (("E5",), ("D5",))
    # A delete removes the value it saw; a concurrent rewrite of that note survives it.
    assert data.notes[b].pitches == ("E5",)
    assert rest not in data.notes
    assert [data.notes[i].pitches for i in added] == [("A2",), ("B2",), ("C#3",), ("D3",)]
    assert problem_summary(score) == {
        ("overfull", m3, vln, "error"),  # 4 beats now in a 3/4 bar
        ("overfull", m4, vln, "error"),  # 3/4 carries on into the next bar
        ("underfull", m1, vln, "warning"),  # the rest was deleted
    }


def test_concurrent_moves_of_one_measure_keep_the_first_copy(js: JsPeer) -> None:
    score = ScoreDoc()
    ed = ScoreEditor(score, Origin.agent("interop-test"))
    ids = ed.create_score(parts=["Flute"], measures=4)
    m1, m2, m3, m4 = ids["measures"]
    [fl] = ids["parts"]
    notes = {m: ed.add_note(m, fl, 0, 4, "A4") for m in ids["measures"]}
    js.reset_to(score.encode_state())

    js.call("edit", ops=[{"op": "move_measure", "measure": m2, "index": 0}])
    ed.move_measure(m2, 3)
    exchange(score, js)

    assert js.call("dump") == py_dump(score)
    assert [m["id"] for m in score.raw_measures()] == [m2, m1, m3, m4, m2]
    data = score.read()
    assert [m.id for m in data.measures] == [m2, m1, m3, m4]
    assert [m["id"] for m in js.call("read")["measures"]] == [m2, m1, m3, m4]
    assert {p.code for p in data.problems} == {"duplicate_measure"}

    # Any client may drop the later copy; its notes stay, they follow the id.
    assert js.call("edit", ops=[{"op": "remove_duplicate_measures"}])["results"] == [1]
    exchange(score, js)
    assert [m["id"] for m in score.raw_measures()] == [m2, m1, m3, m4]
    assert validate(score) == [] and set(score.read().notes) == set(notes.values())


def test_an_attribute_set_on_a_measure_while_it_is_moved_is_lost(js: JsPeer) -> None:
    score = ScoreDoc()
    ed = ScoreEditor(score, Origin.agent("interop-test"))
    m1, m2, m3 = ed.create_score(parts=["Flute"], measures=3)["measures"]
    js.reset_to(score.encode_state())

    js.call(
        "edit", ops=[{"op": "set_measure", "measure": m2, "name": "barline", "value": "double"}]
    )
    ed.move_measure(m2, 0)
    exchange(score, js)

    assert js.call("dump") == py_dump(score)
    assert score.raw_measures()[0] == {"id": m2}  # the edit went to the deleted original
    assert [m["id"] for m in score.raw_measures()] == [m2, m1, m3]


# --- declaring the roots ----------------------------------------------------------------------


def test_js_clients_must_declare_every_root_with_its_type(js: JsPeer) -> None:
    score = ScoreDoc()
    ed = ScoreEditor(score)
    ids = ed.create_score(parts=["Oboe"], measures=1)
    ed.add_note(ids["measures"][0], ids["parts"][0], 0, 4, "A4")

    seen = js.call("undeclared", update=b64(score.encode_state()))

    assert seen["without_declaring"] == {}  # doc.toJSON() only shows declared roots
    assert seen["notes_as_array"] == []  # a map read as an array is silently empty
    assert "different constructor" in seen["redeclare_error"]


def test_peer_reports_bad_requests_and_keeps_running(js: JsPeer) -> None:
    assert "error" in js.raw_call("no-such-command")
    assert "error" in js.raw_call("apply", update=42)
    assert "error" in js.raw_call(
        "edit", ops=[{"op": "set_pitches", "note": "n_missing", "pitches": ["C4"]}]
    )
    assert js.call("read")["notes"] == {}


# --- the published contract -------------------------------------------------------------------


def test_the_schema_document_states_the_current_version_and_every_allowed_value() -> None:
    text = SCHEMA_DOC.read_text(encoding="utf-8")
    assert f"**Schema version: {SCHEMA_VERSION}**" in text
    assert f"| {SCHEMA_VERSION} | " in text  # a changelog entry for this version
    assert f"export const SCHEMA_VERSION = {SCHEMA_VERSION}\n" in (
        NODE_DIR / "schema.mjs"
    ).read_text(encoding="utf-8")
    enums = (
        schema.TIE_TYPES
        | schema.BARLINE_TYPES
        | schema.REPEAT_TYPES
        | schema.KEY_MODES
        | schema.DYNAMICS
        | schema.ARTICULATIONS
        | schema.CLEFS
        | schema.NOTE_FIELDS
        | schema.TUPLET_NUMBERS
        | schema.DEGREE_TYPES
        | schema.CHORD_KINDS
    )
    missing = sorted(
        value for value in enums if f"`{value}`" not in text and f'"{value}"' not in text
    )
    assert missing == []
    assert f"{schema.MAX_DENOMINATOR}" in text


# --- suggestions (schema version 2) -----------------------------------------------------------


def _suggested_score() -> tuple[ScoreDoc, dict[str, Any], list[str]]:
    from score_model.suggestions import measure_base

    score = ScoreDoc()
    ed = ScoreEditor(score, Origin.client("person"))
    ids = ed.create_score(title="S", parts=["Soprano", "Alto"], measures=2)
    m1, m2 = ids["measures"]
    soprano, alto = ids["parts"]
    ed.add_note(m1, soprano, 0, 4, "E5")
    ed.add_note(m1, alto, 0, 4, "C4")  # a person's note the suggestion would replace
    ed.add_note(m2, soprano, 0, 4, "D5")
    agent = ScoreEditor(score, Origin.agent("aureon:t_1"))
    raw = score.raw_notes()
    made = [
        agent.add_suggestion(
            task="t_1",
            agent="aureon",
            measure=m,
            part=alto,
            notes=[{"onset": "0", "duration": "4", "pitches": [p]}],
            base=measure_base(raw, m),
            status="pending",
            reason="thirds below the melody",
            report={"after": 0},
        )
        for m, p in ((m1, "G4"), (m2, "B4"))
    ]
    return score, ids, made


def test_js_reads_suggestions_and_accepts_one_measure(js: JsPeer) -> None:
    score, ids, (g1, g2) = _suggested_score()
    js.call("apply", update=b64(score.encode_state()))
    opened = js.call("edit", ops=[{"op": "open_suggestions"}])["results"][0]
    assert set(opened["t_1"]) == set(ids["measures"])
    assert opened["t_1"][ids["measures"][0]][0]["notes"][0]["pitches"] == ["G4"]

    vector = score.doc.get_state()
    js.call("edit", ops=[{"op": "accept_suggestion", "id": g1, "by": "ada"}])
    score.doc.apply_update(js.encode(vector))
    assert score.suggestions[g1]["status"] == "accepted"
    assert score.suggestions[g2]["status"] == "pending"  # the other measure is untouched

    result = ScoreEditor(score, Origin.server("accept")).apply_suggestions([g1], by="ada")
    assert result == {"applied": [g1], "stale": []}
    alto_m1 = [
        n
        for n in score.read().notes.values()
        if n.measure == ids["measures"][0] and n.part == ids["parts"][1]
    ]
    assert [n.pitches for n in alto_m1] == [("G4",)]  # replaced the person's C4
    assert validate(score) == []
    js.call("apply", update=b64(score.encode_state()))
    assert js.call("dump")["suggestions"][g1]["status"] == "applied"


def test_an_accepted_suggestion_on_a_changed_measure_is_stale(js: JsPeer) -> None:
    score, ids, (g1, g2) = _suggested_score()
    js.call("apply", update=b64(score.encode_state()))
    vector = score.doc.get_state()
    # A person changes measure 2 in the browser, then someone accepts the whole task.
    soprano_m2 = next(n.id for n in score.read().notes.values() if n.measure == ids["measures"][1])
    js.call(
        "edit",
        ops=[
            {"op": "set_pitches", "note": soprano_m2, "pitches": ["F5"]},
            {"op": "accept_task", "task": "t_1", "by": "ada"},
        ],
    )
    score.doc.apply_update(js.encode(vector))
    result = ScoreEditor(score, Origin.server("accept")).apply_suggestions([g1, g2])
    assert result == {"applied": [g1], "stale": [g2]}
    m2_notes = {
        n.part: n.pitches for n in score.read().notes.values() if n.measure == ids["measures"][1]
    }
    assert m2_notes == {ids["parts"][0]: ("F5",)}  # the person's note, no alto written


def test_version_1_documents_read_and_migrate() -> None:
    from score_model.migrate import migrate, schema_version

    score = ScoreDoc()
    ScoreEditor(score).create_score(title="Old", measures=1)
    score.meta["schema_version"] = 1  # as written before version 2
    old = ScoreDoc.from_update(score.encode_state())
    assert old.read().meta.schema_version == 1 and old.raw_suggestions() == {}
    assert validate(old) == []
    assert migrate(old) and schema_version(old) == SCHEMA_VERSION == 4
    assert not migrate(old)  # idempotent


def test_off_schema_suggestions_are_reported() -> None:
    score, _, (g1, _) = _suggested_score()
    score.suggestions["g_bad"] = {"task": "t", "status": "maybe"}
    score.suggestions[g1] = {**score.suggestions[g1], "notes": [{"onset": "-1"}]}
    codes = sorted(p.code for p in validate(score))
    assert codes == ["bad_suggestion", "bad_suggestion"]
