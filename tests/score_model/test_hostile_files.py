"""Hostile and broken input: every case ends in a ScoreImportError naming the problem,
quickly, and never in a crash, a hang or a read of a local file."""

from __future__ import annotations

import io
import json
import random
import struct
import threading
import time
import zipfile
from pathlib import Path

import pytest
from music21 import corpus

from score_model.importer import import_json, import_score
from score_model.limits import (
    DEFAULT_LIMITS,
    ImportFailure,
    ImportLimits,
    ScoreImportError,
    read_mxl,
    run_bounded,
)

CHORALE = Path(str(corpus.getWork("bach/bwv66.6")))  # an .mxl with 10 measures, 165 notes


def chorale_xml() -> bytes:
    return read_mxl(CHORALE.read_bytes(), ImportLimits())


def refused(
    data: bytes,
    filename: str | None = None,
    *,
    limits: ImportLimits = DEFAULT_LIMITS,
    format: str | None = None,
) -> ScoreImportError:
    started = time.perf_counter()
    with pytest.raises(ScoreImportError) as caught:
        import_score(data, filename, format, limits=limits)
    assert time.perf_counter() - started < 10, "refusing bad input must be quick"
    assert str(caught.value).startswith(caught.value.reason + ": ")
    return caught.value


def midi_file(events: list[tuple[int, bytes]], per_quarter: int = 480) -> bytes:
    """A one-track MIDI file from (delta ticks, event bytes) pairs."""

    def number(value: int) -> bytes:
        out = [value & 0x7F]
        value >>= 7
        while value:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        return bytes(reversed(out))

    body = b"".join(number(delta) + event for delta, event in events) + b"\x00\xff\x2f\x00"
    return (
        b"MThd"
        + struct.pack(">IHHH", 6, 0, 1, per_quarter)
        + b"MTrk"
        + struct.pack(">I", len(body))
        + body
    )


def one_note_xml(duration: str = "4", divisions: str = "1") -> bytes:
    return f"""<?xml version="1.0"?>
<score-partwise version="4.0"><part-list><score-part id="P1"><part-name>A</part-name>
</score-part></part-list><part id="P1"><measure number="1"><attributes>
<divisions>{divisions}</divisions></attributes><note><pitch><step>C</step><octave>4</octave>
</pitch><duration>{duration}</duration><type>whole</type></note></measure></part>
</score-partwise>""".encode()


# --- not music at all --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [None, "score.musicxml", "score.mxl", "score.mid", "score.abc", "score.json", "score.xml"],
)
def test_random_bytes_are_not_music(filename: str | None) -> None:
    data = random.Random(7).randbytes(4096)
    assert refused(data, filename).reason == ImportFailure.NOT_MUSIC


@pytest.mark.parametrize("filename", [None, "score.musicxml", "score.mxl", "score.mid"])
def test_a_png_is_not_music(filename: str | None) -> None:
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(17) + b"\x00" * 64
    assert refused(png, filename).reason == ImportFailure.NOT_MUSIC


@pytest.mark.parametrize("data", [b"", b"   \n\t ", b"\n"])
def test_an_empty_file_is_not_music(data: bytes) -> None:
    error = refused(data, "score.musicxml")
    assert error.reason == ImportFailure.NOT_MUSIC
    assert "empty" in str(error)


def test_plain_text_is_not_music() -> None:
    assert refused(b"Dear diary, today I wrote no music.").reason == ImportFailure.NOT_MUSIC


def test_xml_that_is_not_musicxml() -> None:
    error = refused(b"<html><body>hello</body></html>")
    assert error.reason == ImportFailure.NOT_MUSIC
    assert "<html>" in str(error)


def test_abc_without_a_key_field_is_not_music() -> None:
    assert refused(b"abc def gab", "tune.abc").reason == ImportFailure.NOT_MUSIC


def test_unsupported_formats_are_named() -> None:
    assert (
        refused(b"\\relative c' { c4 d e f }", "piece.ly").reason
        == ImportFailure.UNSUPPORTED_FORMAT
    )
    assert refused(chorale_xml(), format="pdf").reason == ImportFailure.UNSUPPORTED_FORMAT
    timewise = b'<?xml version="1.0"?><score-timewise version="4.0"></score-timewise>'
    assert refused(timewise).reason == ImportFailure.UNSUPPORTED_FORMAT


# --- truncated and broken ----------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_musicxml(fraction: float) -> None:
    data = chorale_xml()
    error = refused(data[: int(len(data) * fraction)], "score.musicxml")
    assert error.reason == ImportFailure.TRUNCATED
    assert "ends in the middle" in str(error)


def test_truncated_mxl() -> None:
    data = CHORALE.read_bytes()
    assert refused(data[: len(data) // 2], "score.mxl").reason == ImportFailure.TRUNCATED


def test_truncated_midi() -> None:
    data = midi_file([(0, b"\x90\x3c\x40"), (480, b"\x80\x3c\x00")])
    assert refused(data[:20], "score.mid").reason == ImportFailure.TRUNCATED


def test_truncated_json() -> None:
    data = json.dumps({"parts": [], "measures": [], "notes": {}}).encode()
    assert refused(data[:-7], "score.json").reason == ImportFailure.TRUNCATED


def test_malformed_xml_is_invalid() -> None:
    assert refused(b"<score-partwise><part></score-partwise>").reason == ImportFailure.INVALID


def test_musicxml_music21_cannot_read_is_invalid() -> None:
    data = one_note_xml(divisions="0")
    assert refused(data, "x.musicxml").reason == ImportFailure.INVALID


def test_musicxml_without_parts() -> None:
    data = b'<?xml version="1.0"?><score-partwise version="4.0"><part-list/></score-partwise>'
    assert refused(data).reason == ImportFailure.NOT_MUSIC


# --- XML attacks -------------------------------------------------------------------------------


def test_billion_laughs_is_refused_at_once() -> None:
    entities = "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE score-partwise [<!ENTITY lol0 "lol">{entities}]>'
        "<score-partwise>&lol9;</score-partwise>"
    ).encode()
    started = time.perf_counter()
    error = refused(bomb, "bomb.musicxml")
    assert error.reason == ImportFailure.ENTITY_EXPANSION
    assert time.perf_counter() - started < 1


def test_external_entity_is_never_read() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE score-partwise [<!ENTITY xxe SYSTEM '
        b'"file:///etc/passwd">]><score-partwise><work><work-title>&xxe;</work-title>'
        b"</work></score-partwise>"
    )
    error = refused(xxe, "x.musicxml")
    assert error.reason == ImportFailure.EXTERNAL_ENTITY
    assert "root:" not in str(error)


def test_external_parameter_entity_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE score-partwise [<!ENTITY % remote SYSTEM '
        b'"http://127.0.0.1:9/evil.dtd"> %remote;]><score-partwise/>'
    )
    assert refused(data, "x.musicxml").reason == ImportFailure.EXTERNAL_ENTITY


def test_entities_inside_an_mxl_are_refused_too() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "score.musicxml",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a '
            b'SYSTEM "file:///etc/passwd">]><score-partwise>&a;</score-partwise>',
        )
    assert refused(buffer.getvalue(), "x.mxl").reason == ImportFailure.EXTERNAL_ENTITY


def test_the_usual_musicxml_doctype_is_accepted() -> None:
    assert chorale_xml().count(b"<!DOCTYPE") == 1
    assert len(import_score(chorale_xml(), "bwv66.6.musicxml").read().notes) == 165


# --- archives ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gigabyte_of_zeros() -> bytes:
    """An MXL whose score unpacks to 1 GiB of zeros (about 4.6 MB compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(
            "META-INF/container.xml",
            '<container><rootfiles><rootfile full-path="score.xml"/></rootfiles></container>',
        )
        with archive.open("score.xml", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(1024):
                member.write(chunk)
    return buffer.getvalue()


def test_zip_bomb_is_refused_before_unpacking(gigabyte_of_zeros: bytes) -> None:
    started = time.perf_counter()
    error = refused(gigabyte_of_zeros, "bomb.mxl")
    assert error.reason == ImportFailure.ZIP_BOMB
    assert time.perf_counter() - started < 1


def test_zip_with_a_lying_size_header_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("score.musicxml", bytes(4 << 20))
    data = bytearray(buffer.getvalue())
    declared = struct.pack("<I", 40_000)  # claim 40 KB: a ratio zipfile's header allows
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = declared
    data[central + 24 : central + 28] = declared
    error = refused(bytes(data), "x.mxl")
    assert error.reason in (ImportFailure.ZIP_BOMB, ImportFailure.TRUNCATED)


def test_zip_with_too_many_members() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(100):
            archive.writestr(f"f{index}.xml", b"<a/>")
    assert refused(buffer.getvalue(), "x.mxl").reason == ImportFailure.ZIP_BOMB


def test_mxl_whose_container_names_a_missing_file() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "META-INF/container.xml",
            '<container><rootfiles><rootfile full-path="nowhere.xml"/></rootfiles></container>',
        )
    error = refused(buffer.getvalue(), "x.mxl")
    assert error.reason == ImportFailure.INVALID
    assert "nowhere.xml" in str(error)


# --- limits ------------------------------------------------------------------------------------


def test_file_over_the_size_limit() -> None:
    error = refused(chorale_xml(), "x.musicxml", limits=ImportLimits(max_bytes=10_000))
    assert error.reason == ImportFailure.TOO_LARGE


@pytest.mark.parametrize("make", ["musicxml", "abc", "midi", "json"])
def test_score_over_the_measure_limit(make: str) -> None:
    data, name = over_limit_file(make)
    assert (
        refused(data, name, limits=ImportLimits(max_measures=4)).reason
        == ImportFailure.TOO_MANY_MEASURES
    )


@pytest.mark.parametrize("make", ["musicxml", "abc", "midi", "json"])
def test_score_over_the_note_limit(make: str) -> None:
    data, name = over_limit_file(make)
    assert (
        refused(data, name, limits=ImportLimits(max_notes=20)).reason
        == ImportFailure.TOO_MANY_NOTES
    )


def test_score_over_the_part_limit() -> None:
    assert (
        refused(chorale_xml(), "x.musicxml", limits=ImportLimits(max_parts=3)).reason
        == ImportFailure.TOO_MANY_PARTS
    )


def over_limit_file(kind: str) -> tuple[bytes, str]:
    """A small real score of each kind with 8 measures and 32 notes or more."""
    if kind == "musicxml":
        return chorale_xml(), "x.musicxml"
    if kind == "abc":
        return b"X:1\nM:4/4\nL:1/4\nK:C\n" + b"CDEF|" * 8 + b"]\n", "x.abc"
    if kind == "midi":
        events = [
            (0 if i % 2 == 0 else 480, bytes([0x90 if i % 2 == 0 else 0x80, 60, 64]))
            for i in range(64)
        ]
        return midi_file(events), "x.mid"
    score = import_score(chorale_xml(), "x.musicxml")
    from score_model.exporter import export_json

    return export_json(score), "x.json"


def test_a_note_lasting_thousands_of_bars_is_refused_at_once() -> None:
    abc = b"X:1\nM:4/4\nL:1/4\nK:C\nC D E F|G100000 A|]\n"
    assert refused(abc, "x.abc").reason == ImportFailure.TOO_COMPLEX
    xml = one_note_xml(duration="1000000000")
    assert refused(xml, "x.musicxml").reason == ImportFailure.TOO_COMPLEX


def test_midi_lasting_too_long_is_refused() -> None:
    data = midi_file([(0, b"\x90\x3c\x40"), (480 * 100_000, b"\x80\x3c\x00")])
    assert refused(data, "x.mid").reason == ImportFailure.TOO_MANY_MEASURES


def test_smpte_midi_is_unsupported() -> None:
    data = bytearray(midi_file([(0, b"\x90\x3c\x40"), (480, b"\x80\x3c\x00")]))
    data[12:14] = b"\xe7\x28"  # 25 frames per second, 40 ticks per frame
    assert refused(bytes(data), "x.mid").reason == ImportFailure.UNSUPPORTED_FORMAT


# --- time limit --------------------------------------------------------------------------------


def test_slow_parse_is_stopped_and_its_thread_ends() -> None:
    slow = b"X:1\nM:4/4\nL:1/4\nK:C\n" + b"G200 A|" * 60 + b"]\n"  # each long note ~0.5 s
    started = time.perf_counter()
    error = refused(slow, "slow.abc", limits=ImportLimits(parse_seconds=0.5))
    assert error.reason == ImportFailure.TOO_COMPLEX
    assert time.perf_counter() - started < 5
    deadline = time.monotonic() + 5
    while any(t.name == "orpheus-import" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the cancelled parse is still running"
        time.sleep(0.05)


def test_run_bounded_returns_values_and_reraises() -> None:
    assert run_bounded(lambda: 42, 1.0) == 42
    with pytest.raises(ZeroDivisionError):
        run_bounded(lambda: 1 // 0, 1.0)

    def spin() -> None:
        while True:
            pass

    with pytest.raises(ScoreImportError) as caught:
        run_bounded(spin, 0.2, "spinning")
    assert caught.value.reason == ImportFailure.TOO_COMPLEX
    assert "spinning" in str(caught.value)


# --- JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([1, 2, 3], ImportFailure.NOT_MUSIC),
        ({"hello": "world"}, ImportFailure.NOT_MUSIC),
        (
            {"schema_version": 99, "parts": [], "measures": [], "notes": {}},
            ImportFailure.UNSUPPORTED_FORMAT,
        ),
        ({"parts": {}, "measures": [], "notes": {}}, ImportFailure.INVALID),
        (
            {
                "parts": [{"id": "p1"}],
                "measures": [{"id": "m1"}],
                "notes": {"n1": {"measure": "m1", "part": "p1", "onset": "0", "duration": "-1"}},
            },
            ImportFailure.INVALID,
        ),
        (
            {
                "parts": [{"id": "p1"}],
                "measures": [{"id": "m1"}],
                "notes": {"n1": {"measure": "m2", "part": "p1", "onset": "0", "duration": "1"}},
            },
            ImportFailure.INVALID,
        ),
        (
            {"parts": [{"id": "p1"}, {"id": "p1"}], "measures": [], "notes": {}},
            ImportFailure.INVALID,
        ),
    ],
)
def test_bad_json_documents(document: object, reason: ImportFailure) -> None:
    with pytest.raises(ScoreImportError) as caught:
        import_json(json.dumps(document))
    assert caught.value.reason == reason


def test_deeply_nested_json_is_invalid() -> None:
    data = b'{"parts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert refused(data, "x.json").reason == ImportFailure.INVALID
