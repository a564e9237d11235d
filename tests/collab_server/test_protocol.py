"""The wire codec, checked against pycrdt's own y-websocket helpers and bad input."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Map, create_awareness_message, create_sync_message, create_update_message
from pycrdt._sync import write_var_uint

from collab_server.errors import ProtocolViolation
from collab_server.sync.protocol import (
    AwarenessEntry,
    AwarenessUpdate,
    PermissionDenied,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_awareness,
    decode_message,
    decode_state_vector,
    encode_awareness,
    encode_permission_denied,
    encode_query_awareness,
    encode_state_vector,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
    var_uint,
)
from tests.collab_server.clients import decode_awareness_entries, encode_awareness_entries


def sample_update() -> tuple[Doc, bytes]:
    doc: Doc = Doc()
    doc.get("notes", type=Map)["n1"] = {"pitches": ["C4"], "onset": "0"}
    return doc, doc.get_update()


def test_frames_match_pycrdt_helpers() -> None:
    doc, update = sample_update()
    assert encode_update(update) == create_update_message(update)
    assert encode_sync_step1(doc.get_state()) == create_sync_message(doc)
    assert decode_message(create_update_message(update)) == SyncUpdate(update)
    assert decode_message(create_sync_message(doc)) == SyncStep1(doc.get_state())
    assert decode_message(encode_sync_step2(update)) == SyncStep2(update)
    assert decode_message(encode_query_awareness()) == QueryAwareness()
    assert decode_message(encode_permission_denied("read-only ♪")) == PermissionDenied(
        "read-only ♪"
    )


def test_awareness_round_trips_with_an_independent_codec() -> None:
    entries = [(1, 0, {"user": {"name": "Ada ♪"}}), (2**32 - 1, 2**40, None), (7, 3, {})]
    frame = create_awareness_message(encode_awareness_entries(entries))
    message = decode_message(frame)
    assert isinstance(message, AwarenessUpdate)
    assert [(e.client_id, e.clock) for e in message.entries] == [(c, k) for c, k, _ in entries]
    assert message.entries[1].removed and not message.entries[0].removed
    assert encode_awareness(message.entries) == frame
    assert decode_awareness_entries(frame[2:]) == entries  # one-byte length prefix here


def test_state_vectors_decode_like_yjs() -> None:
    doc, _ = sample_update()
    vector = decode_state_vector(doc.get_state())
    assert vector == {doc.client_id: 1}
    assert encode_state_vector(vector) == doc.get_state()
    assert decode_state_vector(b"\x00") == {}


@pytest.mark.parametrize(
    "frame, reason",
    [
        (b"", "truncated"),
        (b"\x00", "truncated"),
        (b"\x00\x02", "truncated"),
        (b"\x00\x02\xff", "truncated"),  # the length varint never ends
        (b"\x00\x02\xff\xff\xff\xff\x0f", "exceeds"),  # 4 GiB declared, nothing follows
        (b"\x00\x02\x05abc", "exceeds"),
        (b"\x00\x02\x01a\x00", "trailing"),
        (b"\x00\x07\x00", "unknown sync"),
        (b"\x09", "unknown message type"),
        (b"\x80\x80\x80\x80\x80\x80\x80\x80\x01", "out of range"),  # > 2**53
        (b"\x01\x03\x01\x01\x01", "truncated"),
        (b"\x01\x05\x01\x01\x01\x01{", "JSON"),
        (b"\x01\x07\x01\x01\x01\x03NaN", "JSON"),  # JSON.parse rejects NaN
        (b"\x01\x06\x01\x01\x01\x02\xff\xfe", "UTF-8"),
        (b"\x01\x04\xff\xff\xff\x7f", "declares"),
        (b"\x02\x01", "unknown auth"),
    ],
)
def test_malformed_frames_are_protocol_violations(frame: bytes, reason: str) -> None:
    with pytest.raises(ProtocolViolation, match=reason):
        decode_message(frame)


def test_awareness_states_are_bounded() -> None:
    state = '"' + "x" * (64 * 1024) + '"'
    with pytest.raises(ProtocolViolation, match="64 KiB"):
        decode_message(encode_awareness([AwarenessEntry(1, 1, state)]))


def test_state_vector_must_be_exact() -> None:
    with pytest.raises(ProtocolViolation):
        decode_state_vector(b"\x02\x01\x01")
    with pytest.raises(ProtocolViolation):
        decode_state_vector(b"\x01\x01\x01\x00")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_protocol_violation(frame: bytes) -> None:
    with contextlib.suppress(ProtocolViolation):
        decode_message(frame)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**53 - 1),
            st.integers(0, 2**53 - 1),
            st.dictionaries(st.text(max_size=5), st.integers()),
        ),
        max_size=5,
    )
)
def test_awareness_encoding_round_trips(raw: list[tuple[int, int, dict[str, int]]]) -> None:
    entries = tuple(AwarenessEntry(c, k, json.dumps(s)) for c, k, s in raw)
    assert decode_message(encode_awareness(entries)) == AwarenessUpdate(entries)
    body = encode_awareness_entries([(c, k, s) for c, k, s in raw])
    assert decode_awareness(body) == tuple(
        AwarenessEntry(c, k, json.dumps(s, separators=(",", ":"))) for c, k, s in raw
    )


@given(st.integers(0, 2**53 - 1))
def test_var_uint_matches_pycrdt(value: int) -> None:
    assert var_uint(value) == write_var_uint(value)
