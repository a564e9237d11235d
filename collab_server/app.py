"""The application factory: the one place that picks concrete backends and wires the
server together. Library modules get what they need through their constructors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from agents.tasks import MemoryTaskBoard
from collab_server.analysis.runtime import start_analysis
from collab_server.api import (
    accounts,
    analysis,
    comments,
    scores,
    sharing,
    system,
    versions,
    webapp,
)
from collab_server.api import agents as agent_api
from collab_server.api import search as search_api
from collab_server.api import semantic as semantic_api
from collab_server.api import webhooks as webhook_api
from collab_server.cache import ScoreMetadataCache, open_cache
from collab_server.errors import EXCEPTION_HANDLERS
from collab_server.fanout.factory import open_fanout
from collab_server.fanout.hooks import FanoutHooks
from collab_server.metrics import HttpMetrics, ServerMetrics
from collab_server.participants import ParticipantHub
from collab_server.participants.agents import AgentTasks, agent_config, agent_limiter
from collab_server.participants.redis_board import RedisTaskBoard
from collab_server.participants.redis_undo_relay import RedisUndoRelay
from collab_server.participants.watch import AgentRoomHooks
from collab_server.participants.worker import DramatiqRunner
from collab_server.redis_client import open_redis
from collab_server.search.hooks import SearchHooks
from collab_server.search.service import SearchService
from collab_server.security.authenticator import Identity
from collab_server.security.gate import GateMiddleware, websocket_authenticator
from collab_server.security.limits import FrameGuard
from collab_server.security.routes import WebSocketRoute
from collab_server.security.wiring import build_gate, close_gate
from collab_server.semantic.service import SemanticService, load_embedder
from collab_server.services.files import ScoreFiles
from collab_server.services.score_service import ScoreService
from collab_server.services.titles import TitleHooks
from collab_server.settings import Settings
from collab_server.sync.hooks import HookChain
from collab_server.sync.rooms import RoomManager
from collab_server.sync.store_hooks import StoreHooks
from collab_server.sync.websocket import ScoreWebSocket
from collab_server.webhooks.wiring import start_webhooks
from persistence.backend import Backend, open_backend
from persistence.documents.store import DocumentStore
from persistence.errors import NotFound

log = logging.getLogger("orpheus.app")


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    announce: Callable[[str], None] | None = None,
) -> Starlette:
    """Build the Starlette app. ``backend`` overrides the one opened from settings (and
    is left open); ``announce`` shows the first admin's password at first start
    (default: the log)."""
    metrics = ServerMetrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = backend or await open_backend(settings.backend_config())
        store = opened.storage
        redis = open_redis(settings)  # the one client of this process (or None)
        documents = DocumentStore(
            store,
            commit_window=settings.commit_window_ms / 1000,
            compact_every=settings.compact_every,
        )
        store_hooks = StoreHooks(documents)
        cache = open_cache(redis)
        analysis_runtime = await start_analysis(settings, opened, redis=redis, cache=cache)
        fanout = open_fanout(redis, settings.instance_id)
        fanout_hooks = (
            None
            if fanout is None
            else FanoutHooks(fanout, store_hooks, observe_lag=metrics.fanout_lag.observe)
        )
        analysis_runtime.events.listen(
            lambda score_id: metrics.observe_analysis(analysis_runtime.hooks.analysed(score_id))
        )
        # @mentions and accepted suggestions
        agent_hooks = AgentRoomHooks(on_accepted=metrics.suggestions_accepted)
        title_hooks = TitleHooks()  # a document's meta.title renames its score
        search = SearchService(opened.search, store.catalog)
        search_hooks = SearchHooks(search.index_document)  # debounced re-indexing
        semantic = SemanticService(
            opened.vectors,
            store.catalog,
            opened.results,
            load_embedder(settings.semantic_search),
            search.readable,
        )
        quiet = settings.semantic_quiet_seconds
        semantic_hooks = SearchHooks(semantic.index_document, quiet=quiet, max_delay=quiet * 5)
        semantic.follow_analysis(analysis_runtime.events.listen, quiet=quiet, max_delay=quiet * 5)

        async def index_new_score(score_id: str, state: bytes) -> None:
            await search.index_document(score_id, state)
            semantic.index_later(score_id, state)

        async def may_read(score_id: str, user_id: str) -> bool:  # who an @mention reaches
            try:
                await opened.accounts.get_user(user_id)
            except NotFound:
                return False
            access = app.state.gate.access
            return access is None or await access.role(score_id, Identity(user_id)) is not None

        webhooks = await start_webhooks(settings, opened, may_read=may_read)
        rooms = RoomManager(
            HookChain(
                store_hooks if fanout_hooks is None else HookChain(fanout_hooks, store_hooks),
                analysis_runtime.hooks,
                agent_hooks,
                title_hooks,
                webhooks.hooks,  # score.changed, comment.added, @mentions
                search_hooks,
                semantic_hooks,
            ),
            idle_timeout=settings.room_idle_seconds,
            presence_interval=settings.presence_interval_ms / 1000,
            metrics=metrics.rooms,
        )
        metrics.watch(rooms.gauges)
        if fanout_hooks is not None:
            metrics.watch(fanout_hooks.gauges)
        app.state.backend = opened
        app.state.redis = redis
        app.state.rooms = rooms
        app.state.analysis = analysis_runtime
        app.state.gate = await build_gate(
            settings, opened, rooms, announce or (lambda text: log.warning(text)), redis=redis
        )
        if app.state.gate.auth is not None and (redis is not None or opened.embedded):
            # Only a cache every instance shares may keep sessions (else a logout on
            # one instance would not reach the others).
            app.state.gate.auth.use_cache(cache)
        if app.state.gate.access is not None:  # search only what the caller may read
            search.accounts = opened.accounts
        app.state.search = search
        app.state.semantic = semantic
        config = agent_config(settings)
        # Embedded: tasks run here; with Redis, on the workers (the board is shared).
        app.state.agents = AgentTasks(
            ParticipantHub(rooms, app.state.gate.access),
            MemoryTaskBoard() if redis is None else RedisTaskBoard(redis),
            config,
            conversations=opened.conversations,
            limiter=agent_limiter(config, redis),
            runner=None if redis is None else DramatiqRunner(analysis_runtime.enqueuer.broker),
            on_finish=lambda record: metrics.agent_task_finished(
                record.agent, record.status, len(record.suggestions)
            ),
            on_review=metrics.suggestions_accepted,
            relay=None if redis is None else RedisUndoRelay(redis),
        )
        agent_hooks.bind(app.state.agents)
        app.state.agents.on_finish = webhooks.chain_agent_finish(app.state.agents.on_finish)
        webhooks.follow_analysis(analysis_runtime.events)
        app.state.participants = ParticipantHub(rooms, app.state.gate.access)  # REST comments
        app.state.webhooks = webhooks
        webhooks.start()
        app.state.scores = ScoreService(
            store,
            documents,
            rooms,
            ScoreMetadataCache(cache),
            access=app.state.gate.access,
            analyses=analysis_runtime.cached,
            files=ScoreFiles.from_settings(store.blobs, settings),
            trash_seconds=settings.trash_days * 86_400,
            indexer=index_new_score,
            on_version=lambda v: webhooks.version_created(
                v.score_id, v.id, versions.version_json(v)
            ),
        )
        title_hooks.bind(app.state.scores)

        async def readiness() -> dict[str, Any]:
            started = time.perf_counter()
            try:
                await store.catalog.list_scores(limit=1)
                storage_check: dict[str, Any] = {"ok": True}
            except Exception as exc:  # any backend failure makes us unready
                storage_check = {"ok": False, "error": str(exc)}
            storage_check["seconds"] = round(time.perf_counter() - started, 4)
            failing = rooms.rooms_failing_to_store()
            checks = {
                "storage": storage_check,
                "store_backlog": {"ok": not failing, "rooms_failing": failing},
            }
            if fanout_hooks is not None:
                # Degraded, not down: rooms keep serving their own clients and catch up
                # from the update log when Redis returns.
                checks["fanout"] = {"ok": True, "connected": fanout_hooks.connected}
            return checks

        app.state.readiness = readiness
        log.info("orpheus started", extra={"settings": settings.public()})
        purge = asyncio.get_running_loop().create_task(  # the trash: at start-up, hourly
            app.state.scores.purge_periodically(), name="trash-purge"
        )
        try:
            yield
        finally:
            purge.cancel()
            await app.state.agents.close()
            await rooms.close()
            await webhooks.close()
            await search_hooks.close()
            await semantic_hooks.close()
            await semantic.close()
            await close_gate(app.state.gate)
            await analysis_runtime.close()
            if fanout is not None:
                await fanout.close()
            await cache.close()
            await documents.close()
            if backend is None:
                await opened.close()
            if redis is not None:
                await redis.aclose()
            log.info("orpheus stopped")

    middleware = [Middleware(HttpMetrics, metrics=metrics)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["*"],
                allow_headers=["*"],
            )
        )
    middleware.append(
        Middleware(GateMiddleware, gate=lambda scope: getattr(scope["app"].state, "gate", None))
    )
    app = Starlette(
        routes=[
            *system.routes,
            *accounts.routes,
            *scores.routes,
            *versions.routes,
            *analysis.routes,
            *sharing.routes,
            *agent_api.routes,
            *comments.routes,
            *webhook_api.routes,
            *search_api.routes,
            *semantic_api.routes,
            WebSocketRoute(
                "/ws/scores/{score_id}",
                ScoreWebSocket(
                    lambda websocket: websocket.app.state.rooms,
                    authenticate=websocket_authenticator(
                        lambda websocket: getattr(websocket.app.state, "gate", None),
                        lambda websocket: websocket.app.state.rooms,
                    ),
                    frame_guard=FrameGuard(
                        update_rate=settings.ws_update_rate,
                        update_burst=settings.ws_update_burst,
                        awareness_rate=settings.ws_awareness_rate,
                        awareness_burst=settings.ws_awareness_burst,
                        max_document_bytes=settings.max_document_bytes,
                    ),
                    max_message_bytes=settings.max_message_bytes,
                    send_queue_frames=settings.send_queue_frames,
                    send_queue_bytes=settings.send_queue_bytes,
                ),
                role="viewer",
            ),
            *webapp.routes,
        ],
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    return app
