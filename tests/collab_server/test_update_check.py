"""The update guard: honest updates pass, updates pycrdt could choke on are refused."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Array, Doc, Map, Text

from collab_server.errors import ProtocolViolation
from collab_server.sync.connection import Connection
from collab_server.sync.hooks import LoadedState
from collab_server.sync.protocol import decode_state_vector, encode_update
from collab_server.sync.room import Room
from collab_server.sync.update_check import MissingDependency, check_update
from score_model.document import ScoreDoc
from score_model.ops import ScoreEditor

# Found by fuzzing: applied in this order to an empty pycrdt 0.14.13 Doc, the last one
# crashes the interpreter with a segmentation fault (the earlier ones leave structs
# waiting for dependencies that never come).
CRASHING_SEQUENCE = [
    bytes.fromhex(h)
    for h in (
        "0104b4ede780a393e908002101056e6f746573036b3233010701086d6561737572657301283ab4ede780a3"
        "93e908010269640177036d3233040101740568656c6c6f01b4ede780a393e908010001",
        "0104e781a9bb94bfa303002101056e6f746573036b3230010701086d65617375726573012800e781a9bb94"
        "bfa303010269640177036d3230040101740568656c6c6f01e781a9bb94bfa003010001",
        "0104ce818eea9a8f9709002101056e6f746573026b38010701086d65617375726573012800ce818eea9a8f"
        "9709010269640177026d38040101740568656c6c1e01ce818eea9a8f9709010001",
        "0104f4a9f1ffcad50d002101056e6f746573036b3238010701086d65617375726573012800f4a9f1ffcaca"
        "d50d010269640177036d3238040101740568656c6c6f01f4a9f1ffcab1cad50d010001",
        "0104d1c3c2b8bad10b002101056e6f746573036b3134010701086d65617375726573012800d1c3c2f3ba9a"
        "d10b010269640177036d3134040101740568656c6c6f01d1c3c2b8ba9ad10b010001",
        "0104c4f7a38a92ed0a002101056e6f746573036b3237010701086d65617375726573012800b3c4f7a38a92"
        "ed0a010269640177036d3237040101740568656c6c6f01b3c4f7a38a92ed0a010001",
        "0104bdcfb8c790c58e07002101056e6f746573036b3130010701086d65617375726573012800bdcfc790c5"
        "8e07010269640177036d3130040101740568656c6c6f01bdcfb8c790c58e07010001",
        "0104ce818eea9a8f9709442101056e6f746573026b38010701086d65617375726573012800ce818eea9a8f"
        "9709010269640177026d38040101740568656c6c6f01ce818eea9a8f9709010001",
        "01048ef2e8d9b5b2bf04002101056e6f746573026b30010701086d656173757265730128008ef2e8d9b5b2"
        "e904010269640177026d30040101740568656c6c6f018ef2e8d9b5b2bf04010001",
        "0104ce818eea9a8f97093e2101056e6f746573026b38010701086d65617375726573012800ce818eea9a8f"
        "9709010269640177026d38040101740568656c6c6f01ce818eea9a8f9709010001",
    )
]


def vector(doc: Doc) -> dict[int, int]:
    return decode_state_vector(doc.get_state())


def test_every_kind_of_content_passes_and_reports_its_clocks() -> None:
    doc: Doc = Doc()
    notes, measures, text = (
        doc.get("notes", type=Map),
        doc.get("measures", type=Array),
        doc.get("t", type=Text),
    )
    notes["n1"] = {
        "pitches": ["C4"],
        "onset": "1/3",
        "n": 1.5,
        "ok": True,
        "none": None,
        "big": 2**40,
        "bytes": b"\x00\x01",
        "nested": [[{"a": []}]],
    }
    measures.append(Map({"id": "m1", "key": {"fifths": -2}}))
    measures.append(Array([1, "x", None]))
    text += "a♪😀b"  # the emoji counts two clocks, as in JavaScript
    del notes["n1"]
    del measures[0]
    update = doc.get_update()
    assert check_update(update, {}) == vector(doc)
    assert check_update(b"\x00\x00", {}) == {}


def test_an_update_needing_missing_content_is_refused() -> None:
    doc: Doc = Doc()
    notes = doc.get("notes", type=Map)
    notes["a"] = 1
    known = doc.get_state()
    notes["b"] = 2
    middle = doc.get_state()
    notes["c"] = 3
    latest = doc.get_update(middle)
    with pytest.raises(MissingDependency):
        check_update(latest, decode_state_vector(known))  # a gap: "b" never arrived
    assert check_update(latest, decode_state_vector(middle)) == vector(doc)

    other: Doc = Doc()
    other.apply_update(doc.get_update())
    before = other.get_state()
    del other.get("notes", type=Map)["b"]  # deletes content the server must have
    with pytest.raises(MissingDependency):
        check_update(other.get_update(before), decode_state_vector(known))


@pytest.mark.parametrize(
    "update",
    [
        b"\x01\x01\x05\x00\x07",  # truncated
        b"\x01\x01\x05\x00\x0b\x00",  # unknown content type 11
        b"\x01\x01\x05\x00\x09\x01\x01n\x03abc\x7f",  # a subdocument
        b"\x01\x01\x05\x00\x08\x01\x01n\x01\x70",  # a bad value tag
        b"\x01\x01\x05\x00\x08\x01\x01n\x00",  # an empty struct
        b"\x01\x01\x05\x00\x88\x05\x03\x01",  # an origin later in its own client
        b"\x02\x01\x05\x00\x08\x01\x01n\x01\x7e\x01\x05\x01\x08\x01\x01n\x01\x7e\x00",  # twice
        b"\x00\x00\x00",  # trailing bytes
    ],
)
def test_malformed_updates_are_refused(update: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        check_update(update, {5: 10})


async def test_the_crashing_sequence_is_refused_and_the_room_survives() -> None:
    room = Room("s", LoadedState(b""))

    class Sink:
        async def send_bytes(self, data: bytes) -> None:
            return None

        async def close(self, code: int = 1000, reason: str | None = None) -> None:
            return None

    refused = 0
    for update in CRASHING_SEQUENCE:
        conn = Connection(Sink())
        room.join(conn)
        try:
            room.receive(conn, encode_update(update))
        except ProtocolViolation:
            refused += 1
        room.leave(conn)
    assert refused >= 9
    ScoreEditor(room.score).post_chat("server", "still here")
    assert len(room.score.chat) == 1
    await room.stop()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32), st.integers(5, 40))
def test_honest_peers_are_never_refused(seed: int, steps: int) -> None:
    """Peers editing through a server copy, each update checked against the server."""
    rnd = random.Random(seed)
    server = ScoreDoc()
    ids = ScoreEditor(server).create_score(parts=("A", "B"), measures=2)
    peers = [ScoreDoc.from_update(server.encode_state()) for _ in range(3)]
    for _ in range(steps):
        peer = rnd.choice(peers)
        peer.doc.apply_update(server.doc.get_update(peer.doc.get_state()))
        before = peer.doc.get_state()
        editor = ScoreEditor(peer)
        action = rnd.random()
        measures = [m["id"] for m in peer.raw_measures()]
        notes = list(peer.raw_notes())
        if action < 0.4 or not notes:
            editor.add_note(rnd.choice(measures), rnd.choice(ids["parts"]), 0, 1, ["C4"])
        elif action < 0.6:
            editor.delete_note(rnd.choice(notes))
        elif action < 0.8:
            editor.insert_measure(rnd.randrange(len(measures) + 1))
        elif len(measures) > 1:
            editor.delete_measure(rnd.choice(measures))
        else:
            editor.post_chat("peer", "hi ♪")
        update = peer.doc.get_update(before)
        check_update(update, vector(server.doc))
        server.doc.apply_update(update)
    for peer in peers:  # a reconnecting peer's step 2 passes too
        check_update(peer.doc.get_update(server.doc.get_state()), vector(server.doc))
