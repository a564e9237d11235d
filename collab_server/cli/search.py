"""``orpheus reindex``: rebuild the search index of every score (start-up code, added to
the CLI). Useful once after upgrading to a release with search: scores stored before
join the index otherwise only when first opened."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import click

from collab_server.cli.serve import read_settings

if TYPE_CHECKING:
    from persistence.backend import BackendConfig


async def reindex_all(config: BackendConfig) -> int:
    """Index every stored score of the backend ``config`` names (melodic, text and,
    with the model installed, semantic); return how many."""
    from collab_server.search.service import SearchService
    from collab_server.semantic.service import SemanticService, load_embedder
    from persistence.backend import open_backend
    from persistence.documents.store import DocumentStore
    from persistence.errors import NotFound

    backend = await open_backend(config)
    documents = DocumentStore(backend.storage)
    service = SearchService(backend.search, backend.storage.catalog)
    semantic = SemanticService(
        backend.vectors, backend.storage.catalog, backend.results, load_embedder(), _everything
    )
    done, offset = 0, 0
    try:
        while True:
            page = await backend.storage.catalog.list_scores(limit=200, offset=offset)
            for record in page:
                try:
                    state = (await documents.load(record.id)).state
                except NotFound:  # deleted meanwhile
                    continue
                await service.index_document(record.id, state)
                await semantic.index_document(record.id, state)
                done += 1
            if len(page) < 200:
                return done
            offset += 200
    finally:
        await documents.close()
        await backend.close()


async def _everything(identity: object) -> None:
    return None


@click.command()
def reindex() -> None:
    """Rebuild the melodic, text and semantic search index of every score."""
    count = asyncio.run(reindex_all(read_settings().backend_config()))
    click.echo(f"indexed {count} scores")
