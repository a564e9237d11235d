"""The y-websocket wire protocol: one message per WebSocket frame.

A frame is ``varuint message type`` followed by its body (lib0 encoding):

- ``0`` sync: ``varuint sync type`` (``0`` step 1, ``1`` step 2, ``2`` update) and a
  length-prefixed payload (a state vector for step 1, a Yjs update otherwise);
- ``1`` awareness: a length-prefixed awareness update, itself
  ``varuint count`` then ``count`` times ``varuint client id, varuint clock, varstring JSON``
  (the JSON text ``null`` removes the client's state);
- ``2`` auth: ``varuint 0`` (permission denied) and a varstring reason (server to client);
- ``3`` query awareness: no body; the peer answers with all awareness states it knows.

Decoding is strict: truncated or over-long varints, lengths beyond the frame, trailing
bytes, unknown types, invalid UTF-8 and invalid JSON all raise
:class:`~collab_server.errors.ProtocolViolation`. The peer is then disconnected; nothing
of the frame has been applied.

Encoding uses pycrdt's helpers (``create_update_message``, ``create_awareness_message``,
``write_message``), byte-identical to what we wrote before (``test_protocol.py`` checks
it). Decoding stays ours: pycrdt's ``Decoder`` trusts its input (a truncated varint is an
``IndexError``, a declared length beyond the frame is silently cut, varints are
unbounded), which a server facing hostile clients cannot accept; and no decoder, ours or
pycrdt's, makes a crafted Yjs update safe for yrs: that is the update guard's job
(:mod:`collab_server.sync.update_check`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

from pycrdt import (
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
    write_message,
)

from collab_server.errors import ProtocolViolation

MAX_SAFE_INTEGER = (1 << 53) - 1  # lib0 rejects larger varuints
MAX_AWARENESS_STATE = 64 * 1024  # bytes of JSON per client: presence, not documents
_MAX_VARUINT_BYTES = 8  # 8 x 7 bits covers 2**53


class MessageType(IntEnum):
    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


class SyncType(IntEnum):
    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


EMPTY_UPDATE = b"\x00\x00"  # a Yjs update with no structs and an empty delete set
NULL_STATE = "null"  # awareness JSON of a removed client


@dataclass(frozen=True, slots=True)
class SyncStep1:
    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    update: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    update: bytes


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    """One client's presence: its JSON state as sent (``"null"`` means removed)."""

    client_id: int
    clock: int
    state: str

    @property
    def removed(self) -> bool:
        return self.state == NULL_STATE


@dataclass(frozen=True, slots=True)
class AwarenessUpdate:
    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True, slots=True)
class PermissionDenied:
    reason: str


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


Message = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessUpdate | PermissionDenied | QueryAwareness


def read_uint(data: bytes, pos: int) -> tuple[int, int]:
    """:func:`read_var_uint` with the one-byte case (most counts, lengths and clocks)
    read without a further call; ``IndexError`` past the end."""
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    return read_var_uint(data, pos)


def read_var_uint(data: bytes, pos: int) -> tuple[int, int]:
    """The lib0 varuint at ``data[pos]`` and the position after it; raises
    :class:`ProtocolViolation` if it is truncated or beyond ``MAX_SAFE_INTEGER``."""
    value = shift = 0
    for _ in range(_MAX_VARUINT_BYTES):
        if pos >= len(data):
            raise ProtocolViolation("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value > MAX_SAFE_INTEGER:
                break
            return value, pos
        shift += 7
    raise ProtocolViolation("varint out of range")


class Reader:
    """A cursor over lib0-encoded bytes; every read is bounds-checked."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def var_uint(self) -> int:
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:  # one byte: most of them
            self.pos = pos + 1
            return data[pos]
        value, self.pos = read_var_uint(data, pos)
        return value

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        end = self.pos + length
        if end > len(self.data):
            raise ProtocolViolation(f"declared length {length} exceeds the message")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def var_string(self) -> str:
        data, start = self.data, self.pos + 1
        try:
            if start <= len(data) and data[start - 1] < 0x80:  # a one-byte length
                end = start + data[start - 1]
                if end <= len(data):
                    self.pos = end
                    return data[start:end].decode("utf-8")
            return self.var_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation("invalid UTF-8 in string") from None

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolViolation(f"{len(self.data) - self.pos} unexpected trailing bytes")


def decode_message(frame: bytes) -> Message:
    """Decode one frame; raise :class:`ProtocolViolation` if it is not a valid message."""
    reader = Reader(frame)
    kind = reader.var_uint()
    message: Message
    if kind == MessageType.SYNC:
        sync_type = reader.var_uint()
        payload = reader.var_bytes()
        if sync_type == SyncType.STEP1:
            message = SyncStep1(payload)
        elif sync_type == SyncType.STEP2:
            message = SyncStep2(payload)
        elif sync_type == SyncType.UPDATE:
            message = SyncUpdate(payload)
        else:
            raise ProtocolViolation(f"unknown sync message type {sync_type}")
    elif kind == MessageType.AWARENESS:
        message = AwarenessUpdate(decode_awareness(reader.var_bytes()))
    elif kind == MessageType.AUTH:
        if reader.var_uint() != 0:
            raise ProtocolViolation("unknown auth message")
        message = PermissionDenied(reader.var_string())
    elif kind == MessageType.QUERY_AWARENESS:
        message = QueryAwareness()
    else:
        raise ProtocolViolation(f"unknown message type {kind}")
    reader.end()
    return message


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def decode_awareness(data: bytes) -> tuple[AwarenessEntry, ...]:
    """Decode an awareness update; each state must be valid JSON (as JavaScript parses it)."""
    reader = Reader(data)
    count = reader.var_uint()
    if count > len(data):  # every entry takes at least 3 bytes: a cheap bound before looping
        raise ProtocolViolation(f"awareness update declares {count} entries")
    entries = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        raw = reader.var_bytes()
        if len(raw) > MAX_AWARENESS_STATE:
            raise ProtocolViolation("awareness state over 64 KiB")
        try:
            state = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation("invalid UTF-8 in string") from None
        try:
            json.loads(state, parse_constant=_reject_constant)
        except ValueError:
            raise ProtocolViolation("awareness state is not valid JSON") from None
        entries.append(AwarenessEntry(client_id, clock, state))
    reader.end()
    return tuple(entries)


def decode_state_vector(data: bytes) -> dict[int, int]:
    """Decode a Yjs state vector: ``{client id: clock}``."""
    reader = Reader(data)
    count = reader.var_uint()
    if count > len(data):
        raise ProtocolViolation(f"state vector declares {count} clients")
    vector = {}
    for _ in range(count):
        client_id = reader.var_uint()
        vector[client_id] = reader.var_uint()
    reader.end()
    return vector


# --- encoding -------------------------------------------------------------------------------


def var_uint(value: int) -> bytes:
    """lib0's unsigned varint (pycrdt has one only in a private module)."""
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


var_bytes = write_message  # a length-prefixed payload
_STEP1 = bytes((YMessageType.SYNC, YSyncMessageType.SYNC_STEP1))
_STEP2 = bytes((YMessageType.SYNC, YSyncMessageType.SYNC_STEP2))


def encode_sync_step1(state_vector: bytes) -> bytes:
    return _STEP1 + write_message(state_vector)


def encode_sync_step2(update: bytes) -> bytes:
    return _STEP2 + write_message(update)


encode_update = create_update_message


def encode_awareness_entries(entries: list[AwarenessEntry] | tuple[AwarenessEntry, ...]) -> bytes:
    """The body of an awareness message (what ``decode_awareness`` reads). Not pycrdt's
    ``Encoder.write_var_string``: it prefixes the length in characters, not bytes."""
    parts = [var_uint(len(entries))]
    for entry in entries:
        state = entry.state.encode("utf-8")
        parts.append(var_uint(entry.client_id) + var_uint(entry.clock) + var_bytes(state))
    return b"".join(parts)


def encode_awareness(entries: list[AwarenessEntry] | tuple[AwarenessEntry, ...]) -> bytes:
    return create_awareness_message(encode_awareness_entries(entries))


def encode_permission_denied(reason: str) -> bytes:
    return b"\x02\x00" + var_bytes(reason.encode("utf-8"))


def encode_query_awareness() -> bytes:
    return b"\x03"


def encode_state_vector(vector: dict[int, int]) -> bytes:
    return var_uint(len(vector)) + b"".join(
        var_uint(client) + var_uint(clock) for client, clock in vector.items()
    )
