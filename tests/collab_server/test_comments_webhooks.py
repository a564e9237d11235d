"""Issue 17 C end to end on a live server, on every backend: the comments REST API
(threads, anchors, rights, live browsers), @mention notifications, and webhooks sent
to a real HTTP receiver on loopback: signed, debounced, retried, logged; a receiver
that is down ends in ``failed`` after the capped attempts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from collab_server.settings import Settings
from collab_server.webhooks.signing import verify
from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient
from tests.collab_server.security_helpers import Live, bearer, live_server, settings_for
from tests.collab_server.webhook_receiver import closed_port, receiver
from tests.services import postgres_dsn, reset_postgres  # noqa: F401  (fixture)

FAST = {
    "webhook_allow_private": True,
    "webhook_backoff_seconds": 0.05,
    "webhook_max_attempts": 3,
    "webhook_debounce_seconds": 0.5,
}


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.services)])
async def live(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Live]:
    settings: Settings
    if request.param == "memory":
        settings = settings_for(tmp_path, **FAST)
    elif request.param == "sqlite":
        settings = settings_for(tmp_path, database_url=f"sqlite:///{tmp_path / 'o.db'}", **FAST)
    else:
        dsn: str = request.getfixturevalue("postgres_dsn")
        await reset_postgres(dsn)
        settings = settings_for(
            tmp_path,
            database_url=dsn,
            blob_url=f"file://{tmp_path / 'blobs'}",
            jwt_secret="s" * 40,
            **FAST,
        )
    async with live_server(settings) as server:
        yield server


async def _layout(live: Live, score: str) -> tuple[str, str, str]:
    """The first measure and part of ``score``, and a note added in them."""
    async with live.app.state.rooms.hold(score) as room:
        measure = room.score.raw_measures()[0]["id"]
        part = room.score.raw_parts()[0]["id"]
        note = ScoreEditor(room.score, Origin.server("test")).add_note(
            measure, part, "1", "1", ["C4"]
        )
        await room.flushed()
    return measure, part, note


async def _share(live: Live, owner: str, score: str, user: str, role: str) -> None:
    answer = await live.http.put(
        f"/api/scores/{score}/access/{user}", json={"role": role}, headers=bearer(owner)
    )
    assert answer.status_code in (200, 201, 204), answer.text


async def test_comments_api_threads_anchors_rights_and_live_browsers(live: Live) -> None:
    ann, bob, cy = await live.user("ann"), await live.user("bob"), await live.user("cy")
    score = await live.score(ann)
    await _share(live, ann, score, "bob", "editor")
    await _share(live, ann, score, "cy", "viewer")
    measure, part, note = await _layout(live, score)
    browser = YClient(live.ws(score, cy))
    await browser.connect()
    await asyncio.wait_for(browser.synced.wait(), 5)
    url = f"/api/scores/{score}/comments"

    made = await live.http.post(
        url, json={"text": "Too loud", "measure": measure}, headers=bearer(ann)
    )
    assert made.status_code == 201, made.text
    first = made.json()
    assert first["author"] == "ann" and first["measure"] == measure and not first["resolved"]
    on_note = await live.http.post(url, json={"text": "Sharp?", "note": note}, headers=bearer(bob))
    assert on_note.status_code == 201
    assert on_note.json()["note"] == note and on_note.json()["part"] == part
    assert on_note.json()["onset"] == "1" and on_note.json()["author"] == "bob"
    reply = await live.http.post(
        f"{url}/{first['id']}/replies", json={"text": "Agreed"}, headers=bearer(bob)
    )
    assert reply.status_code == 201 and reply.json()["reply_to"] == first["id"]
    assert reply.json()["measure"] == measure

    # viewers read but do not write; bad anchors are refused
    assert (
        await live.http.post(url, json={"text": "x", "measure": measure}, headers=bearer(cy))
    ).status_code == 403
    assert (
        await live.http.post(url, json={"text": "x", "measure": "m_nope"}, headers=bearer(ann))
    ).status_code == 422
    assert (await live.http.post(url, json={"text": "x"}, headers=bearer(ann))).status_code == 422
    listed = (await live.http.get(url, headers=bearer(cy))).json()["comments"]
    threads = {c["id"]: c for c in listed}  # in time order (to the second)
    assert set(threads) == {first["id"], on_note.json()["id"]}
    assert [r["text"] for r in threads[first["id"]]["replies"]] == ["Agreed"]

    # the browser saw them at once (same document)
    async def seen() -> None:
        while len(browser.score.raw_comments()) < 3:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(seen(), 5)

    resolved = await live.http.patch(
        f"{url}/{first['id']}", json={"resolved": True}, headers=bearer(bob)
    )
    assert resolved.status_code == 200 and resolved.json()["resolved"] is True
    open_ones = (await live.http.get(f"{url}?resolved=false", headers=bearer(ann))).json()
    assert [c["id"] for c in open_ones["comments"]] == [on_note.json()["id"]]
    assert (await live.http.delete(f"{url}/{first['id']}", headers=bearer(cy))).status_code == 403
    assert (await live.http.delete(f"{url}/{first['id']}", headers=bearer(ann))).status_code == 204
    assert (await live.http.delete(f"{url}/{first['id']}", headers=bearer(ann))).status_code == 404
    remaining = (await live.http.get(url, headers=bearer(ann))).json()["comments"]
    assert [c["id"] for c in remaining] == [on_note.json()["id"]]  # the reply went too
    await browser.close()


async def test_webhooks_are_signed_debounced_logged_and_mentions_notify(live: Live) -> None:
    ann, bob = await live.user("ann"), await live.user("bob")
    score = await live.score(ann)
    await _share(live, ann, score, "bob", "viewer")
    measure, _, _ = await _layout(live, score)
    async with receiver() as ann_hook, receiver() as bob_hook:
        made = await live.http.post(
            "/api/webhooks",
            json={
                "url": ann_hook.url(),
                "score_id": score,
                "events": ["comment.added", "version.created", "score.changed"],
            },
            headers=bearer(ann),
        )
        assert made.status_code == 201, made.text
        hook = made.json()
        assert hook["secret"].startswith("whsec_")
        mine = await live.http.post(
            "/api/webhooks",
            json={"url": bob_hook.url(), "events": ["mention"]},
            headers=bearer(bob),
        )
        assert mine.status_code == 201
        # bob is no owner: no webhook on ann's score
        refused = await live.http.post(
            "/api/webhooks",
            json={"url": bob_hook.url(), "score_id": score, "events": ["comment.added"]},
            headers=bearer(bob),
        )
        assert refused.status_code == 403

        comment = await live.http.post(
            f"/api/scores/{score}/comments",
            json={"text": "@bob @nobody please check", "measure": measure},
            headers=bearer(ann),
        )
        assert comment.status_code == 201
        version = await live.http.post(
            f"/api/scores/{score}/versions", json={"name": "v1"}, headers=bearer(ann)
        )
        assert version.status_code == 201

        [added] = await ann_hook.wait_for(1, event="comment.added")
        assert added.json["data"]["comment_id"] == comment.json()["id"]
        assert added.json["data"]["comment"]["text"] == "@bob @nobody please check"
        assert verify(hook["secret"], added.signature, added.body)
        assert not verify(hook["secret"], added.signature, added.body + b" ")
        assert added.headers["x-orpheus-event"] == "comment.added"
        [created] = await ann_hook.wait_for(1, event="version.created")
        assert created.json["data"]["version"]["id"] == version.json()["id"]
        [mention] = await bob_hook.wait_for(1, event="mention")
        assert mention.json["data"]["by"] == "ann" and mention.json["data"]["score_id"] == score
        assert verify(mine.json()["secret"], mention.signature, mention.body)

        # the comment changed the score: one score.changed; then a burst of edits: one more
        await ann_hook.wait_for(1, event="score.changed")
        async with live.app.state.rooms.hold(score) as room:
            for _ in range(5):
                ScoreEditor(room.score, Origin.server("test")).set_metadata(composer="x" * 3)
                await asyncio.sleep(0.01)
        await ann_hook.wait_for(2, event="score.changed")
        await asyncio.sleep(0.8)
        changed = [r for r in ann_hook.got if r.json["event"] == "score.changed"]
        assert len(changed) == 2, [r.json for r in changed]

        notes = (await live.http.get("/api/me/notifications", headers=bearer(bob))).json()
        [told] = notes["notifications"]
        assert told["kind"] == "mention" and told["payload"]["comment_id"] == comment.json()["id"]
        marked = await live.http.post(
            "/api/me/notifications/read", json={"ids": [told["id"]]}, headers=bearer(bob)
        )
        assert marked.json() == {"marked": 1}
        unread = await live.http.get("/api/me/notifications?unread=true", headers=bearer(bob))
        assert unread.json()["notifications"] == []
        assert (await live.http.get("/api/me/notifications", headers=bearer(ann))).json() == {
            "notifications": []
        }

        # the secret is never shown again; the log is the owner's only
        listed = (await live.http.get("/api/webhooks", headers=bearer(ann))).json()["webhooks"]
        assert [w["id"] for w in listed] == [hook["id"]] and "secret" not in listed[0]
        log = await live.http.get(f"/api/webhooks/{hook['id']}/deliveries", headers=bearer(ann))
        entries = log.json()["deliveries"]
        assert {e["event"] for e in entries} == {
            "comment.added",
            "version.created",
            "score.changed",
        }
        assert all(e["status"] == "delivered" and e["attempts"] == 1 for e in entries)
        assert all(e["last_status"] == 204 for e in entries)
        assert (
            await live.http.get(f"/api/webhooks/{hook['id']}/deliveries", headers=bearer(bob))
        ).status_code == 404
        assert (
            await live.http.delete(f"/api/webhooks/{hook['id']}", headers=bearer(ann))
        ).status_code == 204
        assert (
            await live.http.get(f"/api/webhooks/{hook['id']}", headers=bearer(ann))
        ).status_code == 404


async def _deliveries(live: Live, token: str, hook: str, done: set[str]) -> list[dict[str, Any]]:
    async def settled() -> list[dict[str, Any]]:
        while True:
            log = await live.http.get(f"/api/webhooks/{hook}/deliveries", headers=bearer(token))
            entries: list[dict[str, Any]] = log.json()["deliveries"]
            if entries and all(e["status"] in done for e in entries):
                return entries
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(settled(), 10)


async def test_every_version_made_reports_version_created(live: Live) -> None:
    """Saving over REST, a restore (the version kept before it and the one recording it)
    and a version made by the server itself (ScoreService, as the CLI or an agent would)
    each report one ``version.created``."""
    ann = await live.user("ann")
    score = await live.score(ann)
    async with receiver() as hook:
        made = await live.http.post(
            "/api/webhooks",
            json={"url": hook.url(), "score_id": score, "events": ["version.created"]},
            headers=bearer(ann),
        )
        assert made.status_code == 201
        saved = await live.http.post(
            f"/api/scores/{score}/versions", json={"name": "v1"}, headers=bearer(ann)
        )
        assert saved.status_code == 201
        restored = await live.http.post(
            f"/api/scores/{score}/versions/{saved.json()['id']}/restore", headers=bearer(ann)
        )
        assert restored.status_code == 201
        by_server = await live.app.state.scores.create_version(score, name="nightly", author=None)

        got = await hook.wait_for(4, event="version.created")
        await asyncio.sleep(0.3)  # and no more than that
        versions = [r.json["data"]["version"] for r in hook.got]
        assert sorted(v["name"] for v in versions) == sorted(
            ["v1", "Before restoring 'v1'", "Restored 'v1'", "nightly"]
        )
        listed = (await live.http.get(f"/api/scores/{score}/versions", headers=bearer(ann))).json()
        assert {v["id"] for v in versions} == {v["id"] for v in listed["versions"]}
        assert by_server.id in {v["id"] for v in versions} and len(got) == 4
        assert all(r.json["data"]["score_id"] == score for r in got)


async def test_a_down_receiver_fails_after_capped_retries_and_a_flaky_one_recovers(
    live: Live,
) -> None:
    ann = await live.user("ann")
    score = await live.score(ann)
    async with receiver(fail_first=2) as flaky:
        hooks = {}
        for name, url in (
            ("down", f"http://127.0.0.1:{closed_port()}/hook"),
            ("flaky", flaky.url()),
        ):
            made = await live.http.post(
                "/api/webhooks",
                json={"url": url, "score_id": score, "events": ["version.created"]},
                headers=bearer(ann),
            )
            assert made.status_code == 201
            hooks[name] = made.json()["id"]
        await live.http.post(
            f"/api/scores/{score}/versions", json={"name": "v"}, headers=bearer(ann)
        )

        [down] = await _deliveries(live, ann, hooks["down"], {"failed"})
        assert down["attempts"] == 3 and down["last_status"] is None
        assert "Connect" in down["last_error"]
        [recovered] = await _deliveries(live, ann, hooks["flaky"], {"delivered"})
        assert recovered["attempts"] == 3 and recovered["last_status"] == 204
        assert len(flaky.got) == 1 and flaky.attempts == 3


async def test_refused_webhook_urls(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:  # private addresses refused
        ann = await live.user("ann")
        for url in (
            "ftp://example.com/x",
            "http://127.0.0.1:9/x",
            "http://10.0.0.1/x",
            "http://169.254.169.254/latest",
            "http://[::1]/x",
            "not a url",
        ):
            answer = await live.http.post(
                "/api/webhooks", json={"url": url, "events": ["mention"]}, headers=bearer(ann)
            )
            assert answer.status_code == 422, (url, answer.text)
        bad_event = await live.http.post(
            "/api/webhooks",
            json={"url": "https://example.com/x", "events": ["score.exploded"]},
            headers=bearer(ann),
        )
        assert bad_event.status_code == 422
        assert (await live.http.get("/api/webhooks")).status_code == 401


async def test_authentication_off_and_the_openapi_description(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path, auth_enabled=False, **FAST)) as live:
        created = await live.http.post("/api/scores", json={"title": "open"})
        score = created.json()["id"]
        measure, _, _ = await _layout(live, score)
        async with receiver() as got:
            hook = await live.http.post(
                "/api/webhooks",
                json={"url": got.url(), "score_id": score, "events": ["comment.added"]},
            )
            assert hook.status_code == 201, hook.text
            made = await live.http.post(
                f"/api/scores/{score}/comments", json={"text": "hi", "measure": measure}
            )
            assert made.status_code == 201 and made.json()["author"] == "anonymous"
            [sent] = await got.wait_for(1, event="comment.added")
            assert sent.json["data"]["comment"]["text"] == "hi"
        paths = (await live.http.get("/openapi.json")).json()["paths"]
        for path in (
            "/api/scores/{score_id}/comments",
            "/api/scores/{score_id}/comments/{comment_id}",
            "/api/scores/{score_id}/comments/{comment_id}/replies",
            "/api/webhooks",
            "/api/webhooks/{webhook_id}/deliveries",
            "/api/me/notifications",
        ):
            assert path in paths, path
        assert set(paths["/api/scores/{score_id}/comments/{comment_id}"]) == {"patch", "delete"}


async def test_analysis_ready_and_agent_task_finished_reach_per_user_webhooks(
    tmp_path: Path,
) -> None:
    async with live_server(settings_for(tmp_path, **FAST)) as live, receiver() as got:
        ann = await live.user("ann")
        score = await live.score(ann)
        hook = await live.http.post(  # per user: the events of every score ann owns
            "/api/webhooks",
            json={"url": got.url(), "events": ["analysis.ready", "agent_task.finished"]},
            headers=bearer(ann),
        )
        assert hook.status_code == 201
        await _layout(live, score)  # an edit: analysed in-process
        [ready] = await got.wait_for(1, event="analysis.ready", timeout=30)
        assert ready.json["data"]["score_id"] == score
        assert ready.json["data"]["version"].startswith("e")
        task = await live.http.post(
            f"/api/scores/{score}/agents/tasks",
            json={"agent": "mia", "instruction": "analyse the form"},
            headers=bearer(ann),
        )
        assert task.status_code == 202, task.text
        [finished] = await got.wait_for(1, event="agent_task.finished", timeout=30)
        data = finished.json["data"]
        assert data["task_id"] == task.json()["id"] and data["agent"] == "mia"
        assert data["status"] in ("done", "failed") and data["requested_by"] == "ann"
