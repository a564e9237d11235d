"""Engraved export with Verovio and cairosvg: real renders, note ids, pages, limits."""

from __future__ import annotations

import re

import pytest
from defusedxml import ElementTree as SafeET

from score_model.document import ScoreDoc
from score_model.engrave import EngraveError, EngraveOptions
from score_model.exporter import ExportError, export_score
from score_model.ops import ScoreEditor


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def long_score(measures: int = 40) -> tuple[ScoreDoc, list[str]]:
    score = ScoreDoc()
    edit = ScoreEditor(score)
    ids = edit.create_score(title="Long", parts=["Flute", "Cello"], measures=measures)
    notes = []
    for index, measure in enumerate(ids["measures"]):
        for onset in range(4):
            notes.append(
                edit.add_note(
                    measure,
                    ids["parts"][0],
                    onset,
                    1,
                    ["C5", "E5", "G5", "B4"][(index + onset) % 4],
                )
            )
        notes.append(edit.add_note(measure, ids["parts"][1], 0, 4, ["C3", "G2"]))
    return score, notes


def test_svg_page_carries_every_note_id_and_the_page_size() -> None:
    score, notes = long_score(4)
    exported = export_score(score, "svg")
    assert exported.content_type == "image/svg+xml" and exported.pages == 1
    root = SafeET.fromstring(exported.data)
    assert root.get("width") == "210mm" and root.get("height") == "297mm"
    drawn = set(re.findall(rb'<g id="([^"]+)" class="(?:note|chord)"', exported.data))
    assert {n.encode() for n in notes} <= drawn


def test_pdf_holds_every_page_at_the_requested_size() -> None:
    score, _ = long_score(40)
    options = EngraveOptions(page_width=148, page_height=210, scale=120)  # A5, large
    svg = export_score(score, "svg", engraving=options, page=2)
    assert svg.pages is not None and svg.pages >= 3
    pdf = export_score(score, "pdf", engraving=options)
    assert pdf.data.startswith(b"%PDF") and pdf.content_type == "application/pdf"
    assert pdf_pages(pdf.data) == svg.pages
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", pdf.data)
    assert box is not None
    assert abs(float(box.group(1)) - 148 / 25.4 * 72) < 1
    assert abs(float(box.group(2)) - 210 / 25.4 * 72) < 1


def test_a_page_that_does_not_exist_and_absurd_options_are_refused() -> None:
    score, _ = long_score(2)
    with pytest.raises(ExportError, match="page 9 does not exist"):
        export_score(score, "svg", page=9)
    for bad in ({"scale": 5000}, {"scale": 0}, {"page_width": 10}, {"page_height": 100_000}):
        with pytest.raises(EngraveError):
            EngraveOptions(**bad)  # type: ignore[arg-type]
