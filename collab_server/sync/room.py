"""A room: one live score document, its connections and their presence.

Every change to the document, whoever makes it (a client, another instance, an agent or
the server editing ``room.score`` with :class:`~score_model.ops.ScoreEditor`), is caught
by one observer with its transaction's :class:`~score_model.origin.Origin` and queued.
One flush task per room then, for everything queued since the last flush:

1. stores the batch through ``hooks.store`` (skipping changes that came from another
   instance or from the store); on failure it keeps the batch, retries with back-off and
   absorbs newer changes, so **nothing is broadcast before it is durable**;
2. broadcasts the batch as one merged update, encoded once, to every connection;
3. calls ``hooks.on_change`` and, for changes made here, ``hooks.publish``.

Client messages are handled synchronously in :meth:`Room.receive`; nothing a client
sends starts a task. Client updates pass :mod:`collab_server.sync.update_check` first (pycrdt
can crash the process on updates with missing dependencies); updates from other
instances (:meth:`Room.apply_update`) are trusted. Presence changes are relayed once per
event-loop tick and at most once per ``presence_interval``, only when they are news (see
:mod:`collab_server.sync.awareness`). A newcomer's sync step 2 holds the whole live
document, including changes still being stored: if they are lost, the clients that hold
them send them back on reconnection.

Epochs and y-websocket 3.1.0 close codes. The client reconnects after any close except
codes 4400-4499, with exponential back-off (200 ms doubling to ``maxBackoffTime``,
2.5 s by default; the count resets once a connection syncs). For a 4400-4499 close it
stops reconnecting and emits ``closed`` with ``{code, reason}``; the application decides
what to do. So: a transient failure (1011, 1013 slow client or unavailable, 1001/1012
shutdown) heals by itself: the client reconnects and resyncs. 4409
(:class:`~collab_server.errors.StaleDocument`) means "your copy belongs to an older epoch":
the application must drop its ``Y.Doc`` and connect a fresh one; reconnecting with the
old doc would merge old content back, so the room refuses it (step 1 naming a retired
client beyond what the room has). The client also drops a connection that received
nothing for 30 s; presence renewals (every 15 s) echoed back keep it alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from pycrdt import ReadTransaction, TransactionEvent, merge_updates

from collab_server.errors import (
    OrpheusError,
    ProtocolViolation,
    ScoreNotFound,
    StaleDocument,
    Unavailable,
)
from collab_server.settings import PRESENCE_INTERVAL_MS
from collab_server.sync.awareness import Presence
from collab_server.sync.connection import Connection
from collab_server.sync.hooks import LoadedState, RoomHooks
from collab_server.sync.protocol import (
    EMPTY_UPDATE,
    AwarenessEntry,
    AwarenessUpdate,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_message,
    decode_state_vector,
    encode_awareness,
    encode_permission_denied,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
)
from collab_server.sync.room_metrics import RoomMetrics
from collab_server.sync.sorted_keys import sort_keys
from collab_server.sync.update_check import MissingDependency, check_update
from score_model.document import ScoreDoc
from score_model.origin import SERVER, Origin, OriginKind

log = logging.getLogger("orpheus.room")

_NOT_STORED = (OriginKind.REMOTE, OriginKind.STORE)

SORT_INLINE_BYTES = 32768
"""Sync answers under this size have their keys sorted at once (3 ms at most); larger
ones (a whole score for a newcomer) on a helper thread, once per state asked for."""


def _as_one(batch: Sequence[tuple[bytes, Origin]]) -> bytes:
    """The batch's updates as one update (the update itself when there is one)."""
    return batch[0][0] if len(batch) == 1 else merge_updates(*(u for u, _ in batch))


class RoomClosed(RuntimeError):
    """The room is closing or closed; get a fresh one from the manager."""


class Room:
    """One score being edited live. Build rooms with
    :class:`~collab_server.sync.rooms.RoomManager`."""

    def __init__(
        self,
        score_id: str,
        loaded: LoadedState,
        hooks: RoomHooks | None = None,
        *,
        metrics: RoomMetrics | None = None,
        retry_delay: float = 0.05,
        max_retry_delay: float = 2.0,
        on_idle: Callable[[Room], None] | None = None,
        on_defunct: Callable[[Room], None] | None = None,
        presence_interval: float = PRESENCE_INTERVAL_MS / 1000,
    ) -> None:
        self.score_id = score_id
        self.hooks = hooks or RoomHooks()
        self.metrics = metrics or RoomMetrics()
        self.epoch = loaded.epoch
        self.retired_clients = frozenset(loaded.retired_clients)
        self.presence = Presence()
        self.store_failing = False
        self.closed = False
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._on_idle = on_idle
        self._on_defunct = on_defunct
        self._connections: dict[str, Connection] = {}
        self._holds = 0
        self._pending: list[tuple[bytes, Origin]] = []
        self._captured = 0  # changes caught so far
        self._flushed = 0  # changes stored and broadcast (or given up)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._generation = 0  # bumped by reset/abandon: an in-flight batch is obsolete
        self._dirty = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._awareness_out: dict[int, AwarenessEntry] = {}
        self._remote_owners: set[str] = set()  # presence owners learnt from other instances
        self._awareness_scheduled = False
        self._presence_interval = presence_interval
        self._last_awareness_flush = -math.inf
        self._loop = asyncio.get_running_loop()
        self.score = ScoreDoc.from_update(loaded.state)
        self._vector = self._read_state_vector()  # exact unless _vector_stale
        self._vector_stale = False
        self._applying_client_update = False
        self._lone_update: bytes | None = None  # a client's update being applied alone
        # The last large sync answer of this state: the state vector asked from, its
        # rewrite. Any change or reset forgets it.
        self._answer: tuple[bytes, asyncio.Future[bytes]] | None = None
        self._subscription = self.score.doc.observe(self._on_transaction)
        self._task = self._loop.create_task(self._flush_loop(), name=f"room-{score_id}")

    def __repr__(self) -> str:
        return f"<Room {self.score_id} epoch={self.epoch} connections={len(self._connections)}>"

    # --- state ---------------------------------------------------------------------------

    @property
    def connections(self) -> tuple[Connection, ...]:
        return tuple(self._connections.values())

    @property
    def pending(self) -> int:
        """Changes caught but not yet stored and broadcast."""
        return self._captured - self._flushed

    @property
    def idle(self) -> bool:
        return not self._connections and not self._holds and not self.pending

    def state_vector(self) -> dict[int, int]:
        """``{client id: clock}`` of the document."""
        return dict(self._current_vector())

    def _current_vector(self) -> dict[int, int]:
        # Client updates keep the cached vector exact (they integrate fully: see
        # update_check); any other change makes us read it again when next needed.
        if self._vector_stale:
            self._vector = self._read_state_vector()
            self._vector_stale = False
        return self._vector

    def _read_state_vector(self) -> dict[int, int]:
        return decode_state_vector(self.score.doc.get_state())

    def retain(self) -> None:
        """Keep the room loaded (for in-process users) until :meth:`release`."""
        self._holds += 1

    def release(self) -> None:
        self._holds -= 1
        self._maybe_idle()

    # --- connections ---------------------------------------------------------------------

    def join(self, conn: Connection) -> None:
        """Add a connection: send it sync step 1 and the presence of everyone here."""
        if self.closed:
            raise RoomClosed(self.score_id)
        self._connections[conn.id] = conn
        conn.start()
        conn.send(encode_sync_step1(self.score.doc.get_state()))
        if len(self.presence):
            conn.send(encode_awareness(self.presence.entries()))

    def leave(self, conn: Connection) -> None:
        """Forget a connection (idempotent) and relay the removal of its presence at once."""
        if self._connections.pop(conn.id, None) is None:
            return
        removals = self.presence.remove_owner(conn.id)
        if removals:
            self._relay_awareness(removals)
            self._publish_presence(removals)
        self._maybe_idle()

    def disconnect(
        self, conn: Connection, error: OrpheusError | None = None, *, code: int | None = None
    ) -> None:
        conn.close(error, code=code)
        self.leave(conn)

    def close_connections(
        self, error: OrpheusError | None = None, *, code: int | None = None
    ) -> None:
        for conn in self.connections:
            self.disconnect(conn, error, code=code)

    # --- client messages -----------------------------------------------------------------

    def receive(self, conn: Connection, frame: bytes, held: list[bytes] | None = None) -> None:
        """Handle one frame from ``conn``. Raises :class:`ProtocolViolation` or
        :class:`StaleDocument`; the caller then disconnects ``conn`` with its code.

        With ``held``, a checked update is added to it instead of applied: the caller
        applies a run of them in one transaction with :meth:`apply_held` before it
        returns to the event loop (and any other message applies them first)."""
        if conn.id not in self._connections:
            return  # closed meanwhile (reset, slow): late frames are ignored
        message = decode_message(frame)
        if held is not None:
            if isinstance(message, SyncUpdate):
                if self._admit(conn, message.update, held):
                    held.append(message.update)
                return
            if held:
                self.apply_held(conn, held)
        if isinstance(message, SyncUpdate | SyncStep2):
            if self._admit(conn, message.update, None):
                self._apply_client_updates(conn, [message.update])
        elif isinstance(message, AwarenessUpdate):
            self.metrics.awareness_in += 1
            accepted = self.presence.apply(message.entries, conn.id)
            if accepted:
                self._relay_awareness(accepted)
                self._publish_presence(accepted)
        elif isinstance(message, SyncStep1):
            vector = decode_state_vector(message.state_vector)
            self._check_fresh(vector)
            try:
                update = self.score.doc.get_update(message.state_vector)
            except ValueError:
                raise ProtocolViolation("invalid state vector") from None
            self._answer_step1(conn, message.state_vector, update)
        elif isinstance(message, QueryAwareness):
            conn.send(encode_awareness(self.presence.entries()))
        # PermissionDenied is a server-to-client message: a client sending it is ignored.

    def _answer_step1(self, conn: Connection, state_vector: bytes, update: bytes) -> None:
        """Send ``update`` (what ``conn`` lacks) as sync step 2 with its objects' keys
        sorted (:func:`sort_keys`): at once if small; else from a helper thread, the
        rewrite shared by everyone asking for the same state meanwhile (a crowd joining),
        and the update as it is should the rewrite fail."""
        if len(update) < SORT_INLINE_BYTES:
            conn.send(encode_sync_step2(sort_keys(update)))
            return
        if self._answer is None or self._answer[0] != state_vector:
            self._answer = (state_vector, self._loop.run_in_executor(None, sort_keys, update))
        self._answer[1].add_done_callback(lambda done: self._send_answer(conn, done, update))

    def _send_answer(self, conn: Connection, done: asyncio.Future[bytes], update: bytes) -> None:
        if conn.id not in self._connections:
            return  # gone meanwhile
        sorted_update = update if done.cancelled() or done.exception() else done.result()
        conn.send(encode_sync_step2(sorted_update))

    def apply_held(self, conn: Connection, held: list[bytes]) -> None:
        """Apply the updates :meth:`receive` held for ``conn`` (in one transaction) and
        empty ``held``. Raises :class:`ProtocolViolation` if pycrdt refuses them."""
        if held:
            updates = held.copy()
            held.clear()
            self._apply_client_updates(conn, updates)

    def _admit(self, conn: Connection, update: bytes, held: list[bytes] | None) -> bool:
        """Check a client's update against the room's state and the updates ``held`` for
        it; True if it is to be applied. The cached state vector takes its clocks now."""
        if update == EMPTY_UPDATE:
            return False
        if conn.read_only:
            conn.refused_updates += 1
            self.metrics.readonly_refused += 1
            if conn.refused_updates == 1:
                log.info(
                    "refused an update from a read-only connection",
                    extra={"score": self.score_id, "connection": conn.id},
                )
                conn.send(encode_permission_denied("read-only access"))
            return False
        self.metrics.updates_in += 1
        self.metrics.update_bytes_in += len(update)
        try:  # refuse what pycrdt could not integrate at once (it can crash on it)
            vector = check_update(update, self._current_vector())
        except MissingDependency:
            if held:  # what it depends on may be held: the document must have it first
                self.apply_held(conn, held)
            self._vector_stale = True  # the cache may lag behind: check once more
            vector = check_update(update, self._current_vector())
        self._check_fresh(vector)
        known = self._vector  # exact: _current_vector() just refreshed it if stale
        for client, clock in vector.items():
            if clock > known.get(client, 0):
                known[client] = clock
        return True

    def _apply_client_updates(self, conn: Connection, updates: list[bytes]) -> None:
        """Apply checked client updates in one transaction with ``conn``'s origin."""
        self._applying_client_update = True
        self._lone_update = updates[0] if len(updates) == 1 else None
        try:
            with self.score.doc.transaction(origin=conn.origin):
                for update in updates:
                    self.score.doc.apply_update(update)
        except Exception as exc:
            self._vector_stale = True
            raise ProtocolViolation(f"invalid update: {exc}") from None
        except BaseException as exc:
            self._vector_stale = True
            if type(exc).__name__ != "PanicException":
                raise
            self._restart(exc)
            raise ProtocolViolation("invalid update") from None
        finally:
            self._applying_client_update = False
            self._lone_update = None

    def _check_fresh(self, vector: dict[int, int]) -> None:
        """Refuse content from an older epoch: a retired client beyond what we hold."""
        retired = self.retired_clients.intersection(vector)
        if not retired:
            return
        local = self._current_vector()
        if any(vector[client] > local.get(client, 0) for client in retired):
            self.metrics.stale_rejections += 1
            raise StaleDocument("this copy of the score is from an older version: reload it")

    # --- server-side changes -------------------------------------------------------------

    def apply_update(self, update: bytes, origin: Origin) -> None:
        """Apply an update made elsewhere (``Origin.remote(...)`` for fan-out)."""
        with self.score.doc.transaction(origin=origin):
            self.score.doc.apply_update(update)

    def set_presence(
        self, entries: Sequence[AwarenessEntry], owner: str, *, remote: bool = False
    ) -> None:
        """Announce presence for in-process participants (``owner`` names them), or,
        with ``remote``, presence learnt from another instance (never published again)."""
        if remote:
            self._remote_owners.add(owner)
        accepted = self.presence.apply(entries, owner)
        if accepted:
            self._relay_awareness(accepted)
            if not remote:
                self._publish_presence(accepted)
        if remote and all(entry.removed for entry in entries):
            self._remote_owners.discard(owner)

    def remove_presence(self, owner: str) -> None:
        removals = self.presence.remove_owner(owner)
        if removals:
            self._relay_awareness(removals)
            if owner not in self._remote_owners:
                self._publish_presence(removals)
        self._remote_owners.discard(owner)

    def local_presence(self) -> list[AwarenessEntry]:
        """Presence announced on this instance (what other instances need to learn)."""
        return [
            entry
            for entry in self.presence.entries()
            if self.presence.owner_of(entry.client_id) not in self._remote_owners
        ]

    def _publish_presence(self, entries: Sequence[AwarenessEntry]) -> None:
        try:
            self.hooks.publish_presence(self, entries)
        except Exception:  # a hook must never break the room
            self.metrics.hook_errors += 1
            log.exception("publish_presence hook failed", extra={"score": self.score_id})

    # --- presence relay ------------------------------------------------------------------

    def _relay_awareness(self, entries: Iterable[AwarenessEntry]) -> None:
        out = self._awareness_out
        for entry in entries:
            out[entry.client_id] = entry
        if not self._awareness_scheduled:
            self._awareness_scheduled = True
            # At most one relay per interval: y-websocket clients echo every relay they
            # get, so this also bounds the presence rate honest clients send back.
            delay = self._last_awareness_flush + self._presence_interval - self._loop.time()
            if delay > 0:
                self._loop.call_later(delay, self._flush_awareness)
            else:
                self._loop.call_soon(self._flush_awareness)

    def _flush_awareness(self) -> None:
        self._awareness_scheduled = False
        if not self._awareness_out:
            return
        self._last_awareness_flush = self._loop.time()
        entries = list(self._awareness_out.values())
        self._awareness_out.clear()
        self.metrics.awareness_relayed += 1
        self._broadcast(encode_awareness(entries))

    def _broadcast(self, frame: bytes, skip: str | None = None) -> None:
        dropped = [
            conn for conn in self._connections.values() if conn.id != skip and not conn.send(frame)
        ]
        for conn in dropped:
            self.leave(conn)

    # --- the flush loop ------------------------------------------------------------------

    def _on_transaction(self, event: TransactionEvent) -> None:
        update = event.update
        if update == EMPTY_UPDATE:
            return
        # TransactionEvent.transaction is missing from pycrdt's stubs (0.14.13).
        txn = event.transaction  # type: ignore[attr-defined]
        origin = ReadTransaction(self.score.doc, txn).origin
        if not self._applying_client_update:
            self._vector_stale = True
        elif self._lone_update is not None:
            # Stored and sent as its author wrote it (checked: self-contained, so all of it
            # integrated; whatever the room already had is harmless again): the objects'
            # keys keep the author's order, where pycrdt's re-encoding has hash order.
            update = self._lone_update
        self._answer = None  # a large sync answer's rewrite is for the state before
        self._pending.append((update, origin if isinstance(origin, Origin) else SERVER))
        self._captured += 1
        self._dirty.set()

    async def flushed(self, timeout: float | None = 10.0) -> None:
        """Wait until every change made so far is stored and broadcast.

        Raises :class:`Unavailable` after ``timeout`` seconds (the changes stay queued
        and are stored when the store recovers) and :class:`StaleDocument` if they were
        dropped because the score was reset.
        """
        target = self._captured
        if self._flushed >= target:
            return
        future: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append((target, future))
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(future)
        except TimeoutError:
            raise Unavailable("the change is not stored yet; the store is failing") from None

    async def _flush_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if not self._pending:
                continue
            async with self._flush_lock:
                try:
                    await self._flush_once()
                except Exception:
                    log.exception("room flush failed", extra={"score": self.score_id})

    async def _flush_once(self) -> None:
        generation = self._generation
        batch, self._pending = self._pending, []
        upto = self._captured
        merged: bytes | None = None  # the batch as one update, made once for store and send
        if all(origin.kind not in _NOT_STORED for _, origin in batch):
            merged = _as_one(batch)
            to_store = [merged]
        else:
            to_store = [update for update, origin in batch if origin.kind not in _NOT_STORED]
        attempt = 0
        while to_store:
            started = time.perf_counter()
            try:
                await self.hooks.store(self, to_store)
            except (StaleDocument, ScoreNotFound) as exc:
                self._abandon(exc)
                return
            except Exception as exc:
                attempt += 1
                self._store_failed(exc, attempt, len(to_store))
                await asyncio.sleep(
                    min(self._max_retry_delay, self._retry_delay * 2 ** (attempt - 1))
                )
                if generation != self._generation:
                    return  # reset meanwhile: this batch belongs to the old epoch
                if self._pending:  # store newer changes with the retry
                    more, self._pending = self._pending, []
                    batch.extend(more)
                    merged = None
                    to_store.extend(u for u, o in more if o.kind not in _NOT_STORED)
                    upto = self._captured
                continue
            self.metrics.observe_store(time.perf_counter() - started)
            if self.store_failing:
                self.store_failing = False
                log.warning(
                    "store recovered", extra={"score": self.score_id, "attempts": attempt + 1}
                )
            break
        if generation != self._generation:
            return
        update = merged if merged is not None else _as_one(batch)
        origins = frozenset(origin for _, origin in batch)
        sender = (
            next(iter(origins)).id
            if (len(origins) == 1 and next(iter(origins)).kind == OriginKind.CLIENT)
            else None
        )
        self.metrics.broadcasts += 1
        self._broadcast(encode_update(update), skip=sender)
        self._mark_flushed(upto)
        await self._run_hook("on_change", self.hooks.on_change(self, origins))
        local = [(u, o) for u, o in batch if o.kind != OriginKind.REMOTE]
        if local:
            local_update = update if len(local) == len(batch) else _as_one(local)
            await self._run_hook(
                "publish", self.hooks.publish(self, local_update, frozenset(o for _, o in local))
            )

    def _store_failed(self, exc: Exception, attempt: int, count: int) -> None:
        self.metrics.store_failures += 1
        self.store_failing = True
        extra = {"score": self.score_id, "attempt": attempt, "updates": count}
        if attempt == 1:
            log.error("store failed; keeping the changes and retrying", exc_info=exc, extra=extra)
        elif attempt % 20 == 0:
            log.error("store still failing: %s", exc, extra=extra)

    def _mark_flushed(self, upto: int, error: BaseException | None = None) -> None:
        self._flushed = max(self._flushed, upto)
        still_waiting = []
        for target, future in self._waiters:
            if target > self._flushed:
                still_waiting.append((target, future))
            elif not future.done():
                if error is None:
                    future.set_result(None)
                else:
                    future.set_exception(error)
        self._waiters = still_waiting
        self._maybe_idle()

    async def _run_hook(self, name: str, call: Any) -> None:
        try:
            await call
        except Exception:
            self.metrics.hook_errors += 1
            log.exception("room hook %s failed", name, extra={"score": self.score_id})

    def _drop_pending(self, error: BaseException) -> int:
        """Forget unflushed changes (their epoch is gone); fail whoever waits on them."""
        dropped = self._captured - self._flushed
        self._pending = []
        self._generation += 1
        self._dirty.clear()
        self._mark_flushed(self._captured, error)
        return dropped

    def _abandon(self, error: StaleDocument | ScoreNotFound) -> None:
        """The stored score was reset or deleted elsewhere: this room is obsolete."""
        dropped = self._drop_pending(error)
        log.warning(
            "room abandoned: %s",
            error.message,
            extra={"score": self.score_id, "dropped_updates": dropped},
        )
        self.closed = True
        self.close_connections(error)
        if self._on_defunct is not None:
            self._on_defunct(self)

    def _restart(self, panic: BaseException) -> None:
        """pycrdt panicked inside a transaction: stop using this document. Clients are
        told to reconnect (1013) to a room loaded afresh; what is pending is still stored."""
        log.error(
            "pycrdt panicked applying an update; reloading the room",
            exc_info=panic,
            extra={"score": self.score_id},
        )
        self.closed = True
        self.close_connections(Unavailable("the room is restarting"))
        if self._on_defunct is not None:
            self._on_defunct(self)

    def _maybe_idle(self) -> None:
        if self._on_idle is not None and not self.closed and self.idle:
            self._on_idle(self)

    # --- lifecycle -----------------------------------------------------------------------

    async def reset(self, state: bytes, epoch: int, retired_clients: Iterable[int] = ()) -> None:
        """Replace the document with ``state`` at a new ``epoch`` (a restore done elsewhere).

        Unflushed changes of the old epoch are dropped and every connection is closed
        with 4409 so clients reload; the old document's client ids are retired, so a
        client that comes back with old content is refused.
        """
        self._generation += 1  # stops a retrying store of the old epoch
        async with self._flush_lock:
            self._replace(state, epoch, retired_clients)

    async def restore(self, state: bytes, start_epoch: Callable[[], Awaitable[int]]) -> int:
        """Reset to ``state`` with stores paused: ``start_epoch()`` (e.g. a
        ``DocumentStore.reset``) runs while no append of this room is in flight; its
        result becomes the room's epoch. Returns the new epoch."""
        self._generation += 1
        async with self._flush_lock:
            epoch = await start_epoch()
            self._replace(state, epoch, ())
        return epoch

    def _replace(self, state: bytes, epoch: int, retired_clients: Iterable[int]) -> None:
        old_clients = self._read_state_vector().keys()
        dropped = self._drop_pending(StaleDocument("the score was reset"))
        self.score.doc.unobserve(self._subscription)
        self.score = ScoreDoc.from_update(state)
        self._answer = None  # a sync answer being rewritten is of the old document
        self._vector = self._read_state_vector()
        self._vector_stale = False
        self._subscription = self.score.doc.observe(self._on_transaction)
        self.epoch = epoch
        self.retired_clients = self.retired_clients.union(old_clients, retired_clients)
        self.store_failing = False
        log.info(
            "room reset", extra={"score": self.score_id, "epoch": epoch, "dropped_updates": dropped}
        )
        self.close_connections(StaleDocument("the score was restored: reload it"))
        self.presence.clear()
        self._awareness_out.clear()
        self._remote_owners.clear()

    async def close(
        self, error: OrpheusError | None = None, *, code: int = 1001, timeout: float | None = 10.0
    ) -> bool:
        """Close every connection, store what is pending (waiting up to ``timeout``) and
        stop. Returns False if changes could not be stored in time (they are lost)."""
        self.closed = True
        self.close_connections(error, code=None if error else code)
        stored = True
        if self.pending:
            try:
                await self.flushed(timeout)
            except Unavailable:
                stored = False
                log.error(
                    "room closed with changes not stored",
                    extra={"score": self.score_id, "lost_updates": self.pending},
                )
            except StaleDocument:
                pass
        await self.stop()
        return stored

    async def stop(self) -> None:
        """Stop the flush task at once, dropping what is pending (see :meth:`close`)."""
        self.closed = True
        if self.pending:
            self._drop_pending(Unavailable("the room was closed"))
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(ValueError):
            self.score.doc.unobserve(self._subscription)
