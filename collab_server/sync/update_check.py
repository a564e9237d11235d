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
``src/structs/Item.js``.
"""

from __future__ import annotations

from collab_server.errors import ProtocolViolation
from collab_server.sync.protocol import Reader


class MissingDependency(ProtocolViolation):
    """The update needs content the given state vector does not include."""


_ORIGIN, _RIGHT_ORIGIN, _PARENT_SUB = 0x80, 0x40, 0x20
_GC, _DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC, _SKIP = range(11)
_XML_ELEMENT, _XML_HOOK = 3, 5
_MAX_TYPE_REF = 6
_MAX_ANY_DEPTH = 64


def check_update(update: bytes, state_vector: dict[int, int]) -> dict[int, int]:
    """Raise :class:`ProtocolViolation` unless ``update`` is a well-formed Yjs update
    whose every dependency is in ``state_vector`` or in the update itself. Returns the
    update's own state vector (``{client: end clock}``)."""
    reader = Reader(update)
    blocks: dict[int, tuple[int, int]] = {}  # client -> (first clock, end clock)
    references: list[tuple[int, int]] = []  # (client, clock) that must exist
    for _ in range(_count(reader, update)):
        structs = _count(reader, update)
        client = reader.var_uint()
        clock = reader.var_uint()
        if client in blocks:
            raise ProtocolViolation("invalid update: a client appears twice")
        if clock > state_vector.get(client, 0):
            raise MissingDependency("update depends on content the server does not have")
        start = clock
        for _ in range(structs):
            clock += _read_struct(reader, references, client, clock)
        blocks[client] = (start, clock)
    for _ in range(_count(reader, update)):  # the delete set
        client = reader.var_uint()
        for _ in range(_count(reader, update)):
            clock = reader.var_uint()
            length = reader.var_uint()
            if length:
                references.append((client, clock + length - 1))
    reader.end()
    for client, clock in references:
        end = max(state_vector.get(client, 0), blocks.get(client, (0, 0))[1])
        if clock >= end:
            raise MissingDependency("update depends on content the server does not have")
    return {client: end for client, (_, end) in blocks.items()}


def _count(reader: Reader, data: bytes) -> int:
    count = reader.var_uint()
    if count > len(data):
        raise ProtocolViolation("invalid update: impossible count")
    return count


def _read_struct(reader: Reader, references: list[tuple[int, int]], client: int, clock: int) -> int:
    """Read one struct at ``(client, clock)``; return its length (clock units)."""
    if reader.pos >= len(reader.data):
        raise ProtocolViolation("invalid update: truncated")
    info = reader.data[reader.pos]
    reader.pos += 1
    kind = info & 0x1F
    if kind == _GC:
        return _positive(reader.var_uint())
    if kind == _SKIP:
        raise MissingDependency("update has a gap (a skip struct)")
    if info & _ORIGIN:
        _reference(reader, references, client, clock)
    if info & _RIGHT_ORIGIN:
        _reference(reader, references, client, clock)
    if not info & (_ORIGIN | _RIGHT_ORIGIN):
        parent_is_root = reader.var_uint()
        if parent_is_root == 1:
            reader.var_string()
        elif parent_is_root == 0:
            _reference(reader, references, client, clock)
        else:
            raise ProtocolViolation("invalid update: bad parent info")
        if info & _PARENT_SUB:
            reader.var_string()
    return _read_content(reader, kind)


def _reference(reader: Reader, references: list[tuple[int, int]], client: int, clock: int) -> None:
    """Read an id this struct depends on; one of its own client must come before it."""
    ref_client, ref_clock = reader.var_uint(), reader.var_uint()
    if ref_client == client and ref_clock >= clock:
        raise ProtocolViolation("invalid update: a struct depends on a later one")
    references.append((ref_client, ref_clock))


def _read_content(reader: Reader, kind: int) -> int:
    if kind == _DELETED:
        return _positive(reader.var_uint())
    if kind == _JSON:
        length = _positive(reader.var_uint())
        for _ in range(length):
            reader.var_string()
        return length
    if kind == _BINARY:
        reader.var_bytes()
        return 1
    if kind == _STRING:
        text = reader.var_string()
        return _positive(len(text.encode("utf-16-le")) // 2)
    if kind == _EMBED:
        reader.var_string()
        return 1
    if kind == _FORMAT:
        reader.var_string()
        reader.var_string()
        return 1
    if kind == _TYPE:
        type_ref = reader.var_uint()
        if type_ref > _MAX_TYPE_REF:
            raise ProtocolViolation("invalid update: unknown shared type")
        if type_ref in (_XML_ELEMENT, _XML_HOOK):
            reader.var_string()
        return 1
    if kind == _ANY:
        length = _positive(reader.var_uint())
        for _ in range(length):
            _read_any(reader, 0)
        return length
    if kind == _DOC:
        raise ProtocolViolation("subdocuments are not supported")
    raise ProtocolViolation(f"invalid update: unknown content type {kind}")


def _read_any(reader: Reader, depth: int) -> None:
    """Skip one lib0 ``any`` value (``lib0/decoding.js`` ``readAny``)."""
    data = reader.data
    if depth > _MAX_ANY_DEPTH or reader.pos >= len(data):
        raise ProtocolViolation("invalid update: bad value")
    tag = data[reader.pos]
    reader.pos += 1
    if tag == 119:  # string: the most common
        reader.var_string()
    elif tag in (127, 126, 121, 120):  # undefined, null, false, true
        pass
    elif tag == 125:  # signed varint
        start = reader.pos
        for pos in range(start, min(start + 10, len(data))):
            if data[pos] < 0x80:
                reader.pos = pos + 1
                return
        raise ProtocolViolation("invalid update: bad integer")
    elif tag in (124, 123, 122):  # float32, float64, bigint64
        size = 4 if tag == 124 else 8
        if reader.pos + size > len(data):
            raise ProtocolViolation("invalid update: truncated number")
        reader.pos += size
    elif tag == 118:  # object
        var_string = reader.var_string
        for _ in range(_count(reader, data)):
            var_string()
            _read_any(reader, depth + 1)
    elif tag == 117:  # array
        for _ in range(_count(reader, data)):
            _read_any(reader, depth + 1)
    elif tag == 116:
        reader.var_bytes()
    else:
        raise ProtocolViolation("invalid update: bad value")


def _positive(length: int) -> int:
    if length < 1:
        raise ProtocolViolation("invalid update: empty struct")
    return length
