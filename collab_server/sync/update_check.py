"""Refuse Yjs updates the server cannot integrate at once, before pycrdt sees them.

yrs (pycrdt 0.14.13) can crash the whole process (a segmentation fault, not an
exception) on crafted updates whose structs wait for missing dependencies: a handful of
corrupted updates found by fuzzing is enough. Honest clients never need that: over an
ordered WebSocket they only send content whose dependencies the server already has (they
learnt everything else from the server). So a client update is accepted only if it is
well-formed Yjs update v1 and self-contained against the room's state vector:

- no gaps: each client's structs start at or below the clock the room has for it, are
  contiguous and contain no Skip structs;
- every origin, right origin and parent id names content the room or the update holds;
- every deleted range lies within content the room or the update holds;
- no subdocuments and no content types outside Yjs 13.

The decoder follows ``UpdateDecoderV1`` in yjs ``src/utils/UpdateDecoder.js`` and
``readClientsStructRefs`` / ``readItemContent`` in ``src/utils/encoding.js`` /
``src/structs/Item.js``. It runs on every edit a client sends, so it is one pass with the
read position in a local variable and the one-byte varints read inline (a note's update
is checked in about 3 us, against 8 with a call per value); reading past the end of the
update is its ``IndexError``, turned into a :class:`ProtocolViolation` at the top.
"""

from __future__ import annotations

from collab_server.errors import ProtocolViolation
from collab_server.sync.protocol import read_uint as _uint
from collab_server.sync.protocol import read_var_uint


class MissingDependency(ProtocolViolation):
    """The update needs content the given state vector does not include."""


_ORIGIN, _RIGHT_ORIGIN, _PARENT_SUB = 0x80, 0x40, 0x20
_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)
_XML_ELEMENT, _XML_HOOK = 3, 5
_MAX_TYPE_REF = 6
_MAX_ANY_DEPTH = 64
_ANY_STRING, _ANY_OBJECT, _ANY_ARRAY, _ANY_BYTES = 119, 118, 117, 116
_ANY_CONSTANTS = frozenset((127, 126, 121, 120))  # undefined, null, false, true
_ANY_SIZES = {124: 4, 123: 8, 122: 8}  # float32, float64, bigint64


def check_update(update: bytes, state_vector: dict[int, int]) -> dict[int, int]:
    """Raise :class:`ProtocolViolation` unless ``update`` is a well-formed Yjs update
    whose every dependency is in ``state_vector`` or in the update itself. Returns the
    update's own state vector (``{client: end clock}``)."""
    try:
        return _check(update, state_vector)
    except IndexError:
        raise ProtocolViolation("invalid update: truncated") from None
    except UnicodeDecodeError:
        raise ProtocolViolation("invalid UTF-8 in string") from None


def value_spans(update: bytes) -> list[tuple[int, int]]:
    """The ``(start, end)`` byte span of every JSON-like value (``ContentAny``) at the top
    level of a well-formed update's items, in order; :class:`ProtocolViolation` if it is
    not well-formed. Dependencies are not checked."""
    spans: list[tuple[int, int]] = []
    try:
        _check(update, _ALL_KNOWN, spans)
    except IndexError:
        raise ProtocolViolation("invalid update: truncated") from None
    except UnicodeDecodeError:
        raise ProtocolViolation("invalid UTF-8 in string") from None
    return spans


def value_end(data: bytes, pos: int) -> int:
    """The position after the JSON-like value at ``pos`` of an update
    :func:`value_spans` read."""
    return _any(data, pos, len(data), 0)


class _AllKnown(dict[int, int]):
    """A state vector holding every clock of every client."""

    def get(self, key: int, default: int | None = None) -> int:  # type: ignore[override]
        return 1 << 62


_ALL_KNOWN = _AllKnown()


def _check(
    data: bytes, state_vector: dict[int, int], spans: list[tuple[int, int]] | None = None
) -> dict[int, int]:
    size = len(data)
    blocks: dict[int, tuple[int, int]] = {}  # client -> (first clock, end clock)
    references: list[tuple[int, int]] = []  # (client, clock) that must exist
    count, pos = _count(data, 0)
    for _ in range(count):
        structs, pos = _count(data, pos)
        client, pos = _uint(data, pos)
        clock, pos = _uint(data, pos)
        if client in blocks:
            raise ProtocolViolation("invalid update: a client appears twice")
        if clock > state_vector.get(client, 0):
            raise MissingDependency("update depends on content the server does not have")
        start = clock
        for _ in range(structs):
            info = data[pos]
            pos += 1
            kind = info & 0x1F
            if kind == _GC:
                length, pos = _uint(data, pos)
                clock += _positive(length)
                continue
            if kind == _SKIP:
                raise MissingDependency("update has a gap (a skip struct)")
            if info & (_ORIGIN | _RIGHT_ORIGIN):
                for flag in (_ORIGIN, _RIGHT_ORIGIN):
                    if info & flag:
                        ref_client, pos = _uint(data, pos)
                        ref_clock, pos = _uint(data, pos)
                        if ref_client == client and ref_clock >= clock:
                            raise ProtocolViolation(
                                "invalid update: a struct depends on a later one"
                            )
                        references.append((ref_client, ref_clock))
            else:
                parent_is_root = data[pos]
                pos += 1
                if parent_is_root == 1:
                    pos = _string(data, pos, size)
                elif parent_is_root == 0:
                    ref_client, pos = _uint(data, pos)
                    ref_clock, pos = _uint(data, pos)
                    if ref_client == client and ref_clock >= clock:
                        raise ProtocolViolation("invalid update: a struct depends on a later one")
                    references.append((ref_client, ref_clock))
                else:
                    raise ProtocolViolation("invalid update: bad parent info")
                if info & _PARENT_SUB:
                    pos = _string(data, pos, size)
            length, pos = _content(data, pos, size, kind, spans)
            clock += length
        blocks[client] = (start, clock)
    count, pos = _count(data, pos)
    for _ in range(count):  # the delete set
        client, pos = _uint(data, pos)
        ranges, pos = _count(data, pos)
        for _ in range(ranges):
            clock, pos = _uint(data, pos)
            length, pos = _uint(data, pos)
            if length:
                references.append((client, clock + length - 1))
    if pos != size:
        raise ProtocolViolation(f"{size - pos} unexpected trailing bytes")
    for client, clock in references:
        end = max(state_vector.get(client, 0), blocks.get(client, (0, 0))[1])
        if clock >= end:
            raise MissingDependency("update depends on content the server does not have")
    return {client: end for client, (_, end) in blocks.items()}


def _count(data: bytes, pos: int) -> tuple[int, int]:
    count, pos = _uint(data, pos)
    if count > len(data):
        raise ProtocolViolation("invalid update: impossible count")
    return count, pos


def _string(data: bytes, pos: int, size: int) -> int:
    """Check the UTF-8 string at ``pos``; return the position after it."""
    length = data[pos]
    if length < 0x80:
        pos += 1
    else:
        length, pos = read_var_uint(data, pos)
    end = pos + length
    if end > size:
        raise ProtocolViolation(f"declared length {length} exceeds the message")
    data[pos:end].decode()
    return end


def _bytes(data: bytes, pos: int, size: int) -> int:
    length, pos = _uint(data, pos)
    if pos + length > size:
        raise ProtocolViolation(f"declared length {length} exceeds the message")
    return pos + length


def _content(
    data: bytes, pos: int, size: int, kind: int, spans: list[tuple[int, int]] | None
) -> tuple[int, int]:
    """Check one item's content; return its length (clock units) and the position after.
    With ``spans``, add the span of each JSON-like value to it."""
    if kind == _ANY:
        length, pos = _uint(data, pos)
        for _ in range(_positive(length)):
            start, pos = pos, _any(data, pos, size, 0)
            if spans is not None:
                spans.append((start, pos))
        return length, pos
    if kind == _DELETED:
        length, pos = _uint(data, pos)
        return _positive(length), pos
    if kind == _JSON:
        length, pos = _uint(data, pos)
        for _ in range(_positive(length)):
            pos = _string(data, pos, size)
        return length, pos
    if kind == _BINARY:
        return 1, _bytes(data, pos, size)
    if kind == _STRING:
        length, pos = _uint(data, pos)
        end = pos + length
        if end > size:
            raise ProtocolViolation(f"declared length {length} exceeds the message")
        text = data[pos:end].decode()
        return _positive(len(text.encode("utf-16-le")) // 2), end
    if kind == _EMBED:
        return 1, _string(data, pos, size)
    if kind == _FORMAT:
        return 1, _string(data, _string(data, pos, size), size)
    if kind == _TYPE:
        type_ref, pos = _uint(data, pos)
        if type_ref > _MAX_TYPE_REF:
            raise ProtocolViolation("invalid update: unknown shared type")
        if type_ref in (_XML_ELEMENT, _XML_HOOK):
            pos = _string(data, pos, size)
        return 1, pos
    if kind == _DOC:
        raise ProtocolViolation("subdocuments are not supported")
    raise ProtocolViolation(f"invalid update: unknown content type {kind}")


def _any(data: bytes, pos: int, size: int, depth: int) -> int:
    """Skip one lib0 ``any`` value (``lib0/decoding.js`` ``readAny``); return the
    position after it."""
    if depth > _MAX_ANY_DEPTH:
        raise ProtocolViolation("invalid update: bad value")
    tag = data[pos]
    pos += 1
    if tag == _ANY_STRING:  # the most common
        return _string(data, pos, size)
    if tag == _ANY_OBJECT:
        count, pos = _count(data, pos)
        for _ in range(count):
            pos = _string(data, pos, size)
            if data[pos] == _ANY_STRING:
                pos = _string(data, pos + 1, size)
            else:
                pos = _any(data, pos, size, depth + 1)
        return pos
    if tag == _ANY_ARRAY:
        count, pos = _count(data, pos)
        for _ in range(count):
            pos = _any(data, pos, size, depth + 1)
        return pos
    if tag in _ANY_CONSTANTS:
        return pos
    if tag == 125:  # signed varint
        for end in range(pos, min(pos + 10, size)):
            if data[end] < 0x80:
                return end + 1
        raise ProtocolViolation("invalid update: bad integer")
    if tag in _ANY_SIZES:
        end = pos + _ANY_SIZES[tag]
        if end > size:
            raise ProtocolViolation("invalid update: truncated number")
        return end
    if tag == _ANY_BYTES:
        return _bytes(data, pos, size)
    raise ProtocolViolation("invalid update: bad value")


def _positive(length: int) -> int:
    if length < 1:
        raise ProtocolViolation("invalid update: empty struct")
    return length
