"""REST: semantic search over the scores the caller may read.

- ``GET /api/search/semantic?q=a sad chorale in a minor key&kinds=description,analysis``:
  descriptions, analysis summaries, chat and comments closest in meaning.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collab_server.api.search import _identity, _list, _number
from collab_server.security.routes import Route
from collab_server.semantic.service import SemanticService


async def semantic_search(request: Request) -> Response:
    """
    summary: Search the scores you may read by meaning
    description: >
      Ranks score descriptions (title, composer, parts), analysis summaries (key,
      texture, cadences, voice-leading problems), chat messages and comments by the
      cosine similarity of their all-MiniLM-L6-v2 sentence embedding to the query's.
      The words need not occur: "sad slow piece" finds "a melancholy adagio".
    parameters:
      - {name: q, in: query, required: true, description: "what you look for, in words (1 to 500 characters)", schema: {type: string, example: "a chorale in a minor key"}}
      - {name: kinds, in: query, description: "comma-separated subset of description, analysis, chat, comment", schema: {type: string}}
      - {name: limit, in: query, schema: {type: integer, default: 20, maximum: 200}}
    responses:
      200: {description: "Hits, best first: {hits: [{score_id, title, kind, ref, text, similarity}]}"}
      400: {description: Empty or too long query, or an unknown kind}
      503: {description: The embedding model is not installed}
    """
    service: SemanticService = request.app.state.semantic
    hits = await service.search(
        request.query_params.get("q", ""),
        identity=_identity(request),
        kinds=_list(request, "kinds"),
        limit=int(_number(request, "limit", 20, 1, 200)),
    )
    return JSONResponse({"hits": hits})


routes = [Route("/api/search/semantic", semantic_search, methods=["GET"], role="token")]
