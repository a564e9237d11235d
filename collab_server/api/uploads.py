"""Reading request bodies under a size limit, refused before they are read whole."""

from __future__ import annotations

import re
from dataclasses import dataclass

from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from collab_server.errors import BadRequest, PayloadTooLarge

_FILENAME_RE = re.compile(r"^[\w .()+-]{1,200}$")


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    filename: str | None
    content_type: str


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, or :class:`PayloadTooLarge` as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body exceeds the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload(request: Request, limit: int) -> Upload:
    """A file sent as multipart form data (field ``file``) or as the raw body.

    For a raw body the file name comes from ``?filename=`` or Content-Disposition.
    """
    content_type, _ = parse_options_header(request.headers.get("content-type", ""))
    media = content_type.decode("latin-1").lower()
    if media == "multipart/form-data":
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise PayloadTooLarge(f"the upload is {int(declared):,} bytes; the limit is {limit:,}")
        try:
            async with request.form(max_files=1, max_fields=10, max_part_size=limit) as form:
                file = form.get("file")
                if not isinstance(file, UploadFile):
                    raise BadRequest("send the score as a form field named 'file'")
                data = await file.read(limit + 1)
                if len(data) > limit:
                    raise PayloadTooLarge(f"the file exceeds the limit of {limit:,} bytes")
                return Upload(data, _safe_name(file.filename), file.content_type or "")
        except MultiPartException as exc:
            if "size" in str(exc).lower():
                raise PayloadTooLarge(f"the upload exceeds the limit of {limit:,} bytes") from exc
            raise BadRequest(f"malformed multipart body: {exc}") from exc
    data = await read_body(request, limit)
    filename = request.query_params.get("filename")
    if filename is None:
        _, options = parse_options_header(request.headers.get("content-disposition", ""))
        raw = options.get(b"filename")
        filename = raw.decode("utf-8", "replace") if raw else None
    return Upload(data, _safe_name(filename), media)


def _safe_name(filename: str | None) -> str | None:
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return base if _FILENAME_RE.match(base) else None
