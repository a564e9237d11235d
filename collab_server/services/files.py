"""Score files: importing uploads under the import limits, rendering exports, and
presigned links to stored exports. The rules every caller shares (REST, CLI, agents);
the slow parts run in a worker thread."""

from __future__ import annotations

from anyio import to_thread

from collab_server.errors import PayloadTooLarge, Unprocessable, UnsupportedMedia
from collab_server.settings import Settings
from persistence.base import BlobStore
from persistence.errors import NotFound
from score_model.document import ScoreDoc
from score_model.engrave import EngraveOptions
from score_model.exporter import CONTENT_TYPES, ExportedFile, ExportError, export_score
from score_model.importer import ScoreImportError, import_score
from score_model.limits import ImportLimits

EXPORT_FORMATS = ("musicxml", "mxl", "midi", "json", "svg", "pdf")
EXPORT_LINK_SECONDS = 3600


class ScoreFiles:
    """Imports and exports of scores; ``limits`` bound what an import may hold."""

    def __init__(self, blobs: BlobStore, limits: ImportLimits) -> None:
        self.blobs = blobs
        self.limits = limits

    @classmethod
    def from_settings(cls, blobs: BlobStore, settings: Settings) -> ScoreFiles:
        """With the import limits of ``settings`` (upload size, measures, notes)."""
        return cls(
            blobs,
            ImportLimits(
                max_bytes=settings.max_upload_bytes,
                max_measures=settings.max_import_measures,
                max_notes=settings.max_import_notes,
            ),
        )

    async def import_file(self, data: bytes, filename: str | None) -> ScoreDoc:
        """A score from MusicXML, MXL, MIDI, ABC or exported JSON; 413 over the size
        limit, 415 not a score format, 422 broken, hostile or over the limits."""

        def run() -> ScoreDoc:
            try:
                return import_score(data, filename=filename, limits=self.limits)
            except ScoreImportError as exc:
                reason = getattr(exc, "reason", "")
                if reason == "too_large":
                    raise PayloadTooLarge(str(exc)) from exc
                if reason in ("unsupported_format", "not_music"):
                    raise UnsupportedMedia(str(exc)) from exc
                raise Unprocessable(str(exc)) from exc

        score: ScoreDoc = await to_thread.run_sync(run)
        return score

    async def export(
        self, state: bytes, fmt: str, *, engraving: EngraveOptions | None = None, page: int = 1
    ) -> ExportedFile:
        """The document ``state`` as a file in ``fmt`` (one of :data:`EXPORT_FORMATS`);
        ``engraving`` and ``page`` for svg and pdf."""

        def run() -> ExportedFile:
            try:
                return export_score(
                    ScoreDoc.from_update(state), fmt, engraving=engraving, page=page
                )
            except ExportError as exc:
                raise Unprocessable(f"the score cannot be exported as {fmt}: {exc}") from exc

        exported: ExportedFile = await to_thread.run_sync(run)
        return exported

    async def export_url(
        self,
        score_id: str,
        tag: str,
        state: bytes,
        fmt: str,
        filename: str,
        *,
        engraving: EngraveOptions | None = None,
        page: int = 1,
    ) -> str | None:
        """A presigned link (valid :data:`EXPORT_LINK_SECONDS`) to the export stored at
        the immutable key ``scores/<id>/exports/<tag>.<ext>`` (rendered and stored on
        first request), or ``None`` where the blob store has no URLs (files, memory)."""
        _, extension = CONTENT_TYPES[fmt]
        key = f"scores/{score_id}/exports/{tag}.{extension}"
        url = await self.blobs.url_for(key, expires=EXPORT_LINK_SECONDS, filename=filename)
        if url is None:
            return None
        try:
            await self.blobs.get(key)
        except NotFound:
            exported = await self.export(state, fmt, engraving=engraving, page=page)
            await self.blobs.put(key, exported.data, exported.content_type)
        return url
