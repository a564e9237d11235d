"""Engraved export: the score as SVG pages or one PDF, laid out by Verovio.

The document goes out as MusicXML (:func:`score_model.exporter.export_score`), Verovio
engraves it on pages of the requested size and scale, and cairosvg draws the SVG pages
into one PDF. Verovio keeps MusicXML ``id`` attributes, so every note of an SVG page is a
``<g class="note">`` whose ``id`` is the note's id in the document (rests and chords too).

Page sizes are millimetres (A4 portrait by default); ``scale`` is Verovio's percentage
(50 by default). :data:`LIMITS` bounds all three.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

from score_model.export_error import ExportError

__all__ = ["LIMITS", "EngraveError", "EngraveOptions", "EngravedPages", "engrave", "svg_to_pdf"]

LIMITS = {"page_width": (50.0, 1000.0), "page_height": (50.0, 1000.0), "scale": (10, 200)}
MAX_PDF_PAGES = 500
_PX_PER_MM = 96 / 25.4  # cairosvg's user unit is the CSS pixel (96 per inch)


class EngraveError(ExportError):
    """Options out of bounds, a page that does not exist, or a score Verovio refuses."""


@dataclass(frozen=True, slots=True)
class EngraveOptions:
    """Page size in millimetres and Verovio's scale in percent."""

    page_width: float = 210.0
    page_height: float = 297.0
    scale: int = 50

    def __post_init__(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise EngraveError(f"{name} must be from {low:g} to {high:g}")

    def verovio(self) -> dict[str, Any]:
        return {
            "pageWidth": round(self.page_width * 10 * 100 / self.scale),
            "pageHeight": round(self.page_height * 10 * 100 / self.scale),
            "scale": self.scale,
            "adjustPageHeight": False,
            "footer": "none",
            "breaks": "auto",
        }

    def tag(self) -> str:
        """A short name for these options (part of a cached export's key)."""
        return f"{self.page_width:g}x{self.page_height:g}mm-{self.scale}"


class EngravedPages:
    """A score laid out by Verovio; pages are rendered on demand."""

    def __init__(self, musicxml: bytes, options: EngraveOptions) -> None:
        import verovio

        verovio.enableLog(verovio.LOG_OFF)
        self.options = options
        # Resources (fonts) named explicitly: the default search finds them only on the
        # main thread, and exports run in worker threads.
        self._toolkit = verovio.toolkit(False)
        self._toolkit.setResourcePath(os.path.join(os.path.dirname(verovio.__file__), "data"))
        self._toolkit.setOptions(options.verovio())
        if not self._toolkit.loadData(musicxml.decode("utf-8")):
            raise EngraveError("Verovio cannot lay out this score")
        self.count = int(self._toolkit.getPageCount())

    def svg(self, page: int) -> str:
        """Page ``page`` (from 1) as SVG, sized in millimetres."""
        if not 1 <= page <= self.count:
            raise EngraveError(f"page {page} does not exist (the score has {self.count})")
        svg: str = self._toolkit.renderToSVG(page)
        return _physical_size(svg, self.options)

    def pdf(self) -> bytes:
        if self.count > MAX_PDF_PAGES:
            raise EngraveError(
                f"the score has {self.count} pages; PDF stops at "
                f"{MAX_PDF_PAGES} (use a smaller scale)"
            )
        return svg_to_pdf([self.svg(n) for n in range(1, self.count + 1)], self.options)


def engrave(musicxml: bytes, options: EngraveOptions | None = None) -> EngravedPages:
    """Lay out a MusicXML score with Verovio."""
    return EngravedPages(musicxml, options or EngraveOptions())


def _physical_size(svg: str, options: EngraveOptions) -> str:
    """Give the outer ``<svg>`` the page's size in millimetres (Verovio writes pixels of
    its scaled layout), so viewers and printers show the page at its real size."""
    head, _, rest = svg.partition("<svg ")
    outer, _, body = rest.partition(">")
    attributes, pixels = [], {}
    for attribute in _split_attributes(outer):
        name, _, value = attribute.partition("=")
        if name in ("width", "height"):
            pixels[name] = value.strip('"').removesuffix("px")
        else:
            attributes.append(attribute)
    size = (
        f'width="{options.page_width:g}mm" height="{options.page_height:g}mm" '
        f'viewBox="0 0 {pixels.get("width", "0")} {pixels.get("height", "0")}"'
    )
    return f"{head}<svg {size} {' '.join(attributes)}>{body}"


def _split_attributes(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                parts.append(current)
            current = ""
        else:
            current += char
    if current:
        parts.append(current)
    return parts


def svg_to_pdf(pages: list[str], options: EngraveOptions) -> bytes:
    """One PDF with a page per SVG, each page ``options``' size: cairosvg draws every SVG
    onto one shared cairo PDF surface. Never fetches anything (``unsafe`` stays off)."""
    import cairocffi
    from cairosvg.parser import Tree
    from cairosvg.surface import PDFSurface

    width = options.page_width * _PX_PER_MM
    height = options.page_height * _PX_PER_MM
    output = io.BytesIO()
    shared = cairocffi.PDFSurface(output, width * 0.75, height * 0.75)  # points

    class Page(PDFSurface):
        def _create_surface(self, w: float, h: float) -> tuple[Any, float, float]:
            shared.set_size(w, h)
            return shared, w, h

    for svg in pages:
        Page(
            Tree(bytestring=svg.encode("utf-8")), None, 96, output_width=width, output_height=height
        )
        shared.show_page()
    shared.finish()
    return output.getvalue()
