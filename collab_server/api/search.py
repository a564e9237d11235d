"""REST: melodic and text search over the scores the caller may read.

- ``GET /api/search/melody?notes=E4,E4,F4,G4,G4&durations=1,1,1,1,1``: where the melody
  occurs (transposition-invariant; rhythm-invariant unless ``durations`` are given).
- ``GET /api/search/text?q=ode joy&kinds=title,lyrics``: titles, composers, lyrics, chat
  and comments holding every word.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.errors import BadRequest
from collab_server.search.service import SearchService, parse_durations, parse_notes
from collab_server.security.authenticator import Identity
from collab_server.security.routes import Route


def search(request: Request) -> SearchService:
    service: SearchService = request.app.state.search
    return service


def _identity(request: Request) -> Identity | None:
    identity = request.scope.get("orpheus.identity")
    return identity if isinstance(identity, Identity) else None


def _list(request: Request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    return [item for item in raw.replace(" ", ",").split(",") if item]


def _number(request: Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low:g} and {high:g}")
    return value


async def melody_search(request: Request) -> Response:
    """
    summary: Find a melody in every score you may read
    description: >
      Transposition-invariant; rhythm-invariant unless durations are given (then the
      rhythm must match up to a tempo factor). Notes are names such as C4, Eb4, F#5;
      a note without an octave is placed nearest the note before it.
    parameters:
      - {name: notes, in: query, required: true, description: "4 to 64 note names, comma-separated", schema: {type: string, example: "E4,E4,F4,G4,G4,F4"}}
      - {name: durations, in: query, description: "one duration per note in quarter notes (1, 0.5, 3/2)", schema: {type: string}}
      - {name: min_similarity, in: query, description: "share of the query's n-grams that must agree", schema: {type: number, default: 0.6, minimum: 0.01, maximum: 1}}
      - {name: limit, in: query, schema: {type: integer, default: 20, maximum: 200}}
    responses:
      200: {description: "Hits, best first: {hits: [{score_id, title, part_id, voice, note_index, measure_ids, similarity}]}"}
      400: {description: Not a note name, too few or too many notes, or bad parameters}
    """
    names = _list(request, "notes")
    if names is None:
        raise BadRequest("give the melody as ?notes=C4,D4,E4,F4")
    raw_durations = _list(request, "durations")
    hits = await search(request).melody(
        parse_notes(names),
        None if raw_durations is None else parse_durations(raw_durations),
        identity=_identity(request),
        min_similarity=_number(request, "min_similarity", 0.6, 0.01, 1),
        limit=int(_number(request, "limit", 20, 1, 200)),
    )
    return JSONResponse({"hits": [hit.to_json() for hit in hits]})


async def text_search(request: Request) -> Response:
    """
    summary: Search titles, composers, lyrics, chat and comments of the scores you may read
    parameters:
      - {name: q, in: query, required: true, description: "words that must all occur (case-insensitive, whole words)", schema: {type: string}}
      - {name: kinds, in: query, description: "comma-separated subset of title, composer, lyrics, chat, comment", schema: {type: string}}
      - {name: limit, in: query, schema: {type: integer, default: 20, maximum: 200}}
    responses:
      200: {description: "Hits, best first: {hits: [{score_id, title, kind, ref, text, rank}]}"}
      400: {description: Empty or too long query, or an unknown kind}
    """
    hits = await search(request).text(
        request.query_params.get("q", ""),
        identity=_identity(request),
        kinds=_list(request, "kinds"),
        limit=int(_number(request, "limit", 20, 1, 200)),
    )
    return JSONResponse({"hits": hits})


routes = [
    Route("/api/search/melody", melody_search, methods=["GET"], role="token"),
    Route("/api/search/text", text_search, methods=["GET"], role="token"),
]
