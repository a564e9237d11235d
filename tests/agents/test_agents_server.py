"""Agents in a running server: @mention in the chat from the unmodified JavaScript client,
the agent's presence and suggestions seen by it, acceptance written through the schema
and a second client converging; the REST API with roles, progress events, cancel, undo."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.agents.chorale import MELODY, fill_melody
from tests.agents.watcher import Watcher, agents_present
from tests.collab_server.security_helpers import Live, bearer, live_server, settings_for


async def _chorale(live: Live, token: str, bars: int = 4) -> tuple[str, dict[str, Any]]:
    score_id = await live.score(token, "Chorale")

    def build(editor: ScoreEditor) -> dict[str, Any]:
        parts = [editor.add_part(name) for name in ("Soprano", "Alto", "Tenor", "Bass")]
        for part_id in [p["id"] for p in editor.score.raw_parts()][:-4]:
            editor.remove_part(part_id)
        measures = [m["id"] for m in editor.score.raw_measures()]
        measures += editor.append_measures(max(0, bars - len(measures)))
        for extra in measures[bars:]:
            editor.delete_measure(extra)
        ids = {"parts": parts, "measures": measures[:bars]}
        fill_melody(editor, ids, bars)
        return ids

    ids = await live.app.state.scores.edit(score_id, build, origin=Origin.server("test"))
    return score_id, ids


@pytest.mark.node
async def test_mention_presence_suggestion_accept_and_convergence(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ada = await live.user("ada")
        score_id, ids = await _chorale(live, ada)
        first = await Watcher.start(url=live.ws_base, room=score_id, name="ada", token=ada)
        second = await Watcher.start(url=live.ws_base, room=score_id, name="bob", token=ada)
        try:
            await first.send(cmd="chat", text="@aureon harmonise bars 1-4 please")
            posted = await first.until(lambda e: e["event"] == "posted")
            arrived = await first.until(lambda e: bool(agents_present(e)))
            [presence] = agents_present(arrived)
            assert presence["user"] == {"name": "Aureon", "color": "#2563eb", "kind": "agent"}
            assert presence["status"] in ("reading", "thinking", "writing")
            assert presence["task"].startswith("t_")
            task = presence["task"]
            # Streamed: drafts appear measure by measure, then become pending when checked.
            pending = await first.until(
                lambda e: (
                    e["event"] == "suggestions"
                    and e["items"]
                    and all(s["status"] == "pending" for s in e["items"].values())
                )
            )
            suggestions = pending["items"]
            assert {s["measure"] for s in suggestions.values()} == set(ids["measures"])
            assert {s["part"] for s in suggestions.values()} == set(ids["parts"][1:])
            assert all(
                s["task"] == task
                and s["agent"] == "aureon"
                and s["reason"]
                and s["report"]["after"]["counts"]["parallel_fifths"] == 0
                for s in suggestions.values()
            )
            waiting = await first.until(
                lambda e: any(s["status"] == "waiting_for_review" for s in agents_present(e))
            )
            assert agents_present(waiting)[0]["focus"]["measures"] == ids["measures"]
            assert posted["t"] > 0

            await first.send(cmd="accept_task", task=task)
            # reviewed: the agent leaves at once
            await first.until(
                lambda e: e["event"] == "presence" and not agents_present(e), timeout=5
            )
            applied = await second.until(
                lambda e: (
                    e["event"] == "suggestions"
                    and all(s["status"] == "applied" for s in e["items"].values())
                )
            )
            # notes and statuses change in one transaction: the notes are there already
            dump = (await second.dump())["dump"]
            assert len(dump["notes"]) == sum(len(bar) for bar in MELODY[:4]) + sum(
                len(s["notes"]) for s in applied["items"].values()
            )
            for suggestion in applied["items"].values():
                cell = sorted(
                    (n["onset"], n["pitches"])
                    for n in dump["notes"].values()
                    if n["measure"] == suggestion["measure"] and n["part"] == suggestion["part"]
                )
                assert cell == sorted((n["onset"], n["pitches"]) for n in suggestion["notes"])
            assert (await first.dump())["dump"]["notes"] == dump["notes"]  # converged
            chat = (await second.dump())["chat"]
            reply = [m for m in chat if m.get("author_kind") == "agent"]
            assert reply and reply[0]["author"] == "Aureon" and reply[0]["task"] == task
            comments = dump["comments"].values()
            assert any(c["author"] == "aureon" and "parallels 0" in c["text"] for c in comments)
        finally:
            await first.close()
            await second.close()


async def _sse(live: Live, url: str, token: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with live.http.stream(
        "GET", url, headers={**bearer(token), "Accept": "text/event-stream"}, timeout=30
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    return events


async def test_rest_tasks_roles_events_and_undo(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ada = await live.user("ada")
        bob = await live.user("bob")
        score_id, ids = await _chorale(live, ada)
        grant = await live.http.put(
            f"/api/scores/{score_id}/access/bob", headers=bearer(ada), json={"role": "viewer"}
        )
        assert grant.status_code in (200, 201, 204), grant.text
        url = f"/api/scores/{score_id}/agents/tasks"

        refused = await live.http.post(
            url, headers=bearer(bob), json={"agent": "aureon", "instruction": "harmonise"}
        )
        assert refused.status_code == 403  # a viewer cannot start a writing task
        talk = await live.http.post(
            url, headers=bearer(bob), json={"agent": "mia", "instruction": "analyse the form"}
        )
        assert talk.status_code == 202, talk.text
        unknown = await live.http.post(
            url, headers=bearer(ada), json={"agent": "nobody", "instruction": "x"}
        )
        assert unknown.status_code == 422

        started = await live.http.post(
            url,
            headers=bearer(ada),
            json={
                "agent": "aureon",
                "instruction": "harmonise",
                "measures": "1-2",
                "mode": "direct",
            },
        )
        assert started.status_code == 202, started.text
        task = started.json()
        events = await _sse(live, f"{url}/{task['id']}/events", ada)
        kinds = [e["type"] for e in events]
        assert kinds[0] == "queued" and kinds[-1] == "done"
        assert {"status", "write", "gate"} <= set(kinds)
        writes = [e for e in events if e["type"] == "write"]
        assert {w["measure"] for w in writes} == set(ids["measures"][:2])
        record = (await live.http.get(f"{url}/{task['id']}", headers=bearer(ada))).json()
        assert record["status"] == "done" and record["notes_written"] == sum(
            w["notes"] for w in writes
        )

        # A person edits one of the agent's measures, then the task is undone: the
        # agent's notes go, the person's note stays.
        scores = live.app.state.scores
        person = await scores.edit(
            score_id,
            lambda ed: ed.add_note(ids["measures"][0], ids["parts"][1], 0, 1, ["D4"], voice=2),
            origin=Origin.client("ada-browser"),
        )
        undone = await live.http.post(f"{url}/{task['id']}/undo", headers=bearer(ada))
        assert undone.status_code == 200, undone.text
        score = await scores.document(score_id)
        lower = [n for n in score.read().notes.values() if n.part != ids["parts"][0]]
        assert [n.id for n in lower] == [person]
        again = await live.http.post(f"{url}/{task['id']}/undo", headers=bearer(ada))
        assert again.status_code == 409

        mia = await _sse(live, f"{url}/{talk.json()['id']}/events", bob)
        assert mia[-1]["type"] == "done" and mia[-1]["summary"]
        # The conversation is remembered per score for the next question's context.
        memory = await live.app.state.backend.conversations.recent(score_id, limit=10)
        said = [(m.author_id, m.author_kind, m.body["text"]) for m in memory]
        assert ("ada", "user", "harmonise") in said
        assert ("aureon", "agent", record["summary"]) in said
        assert ("bob", "user", "analyse the form") in said
        missing = await live.http.get(f"{url}/t_nope", headers=bearer(ada))
        assert missing.status_code == 404


async def test_cancel_withdraws_what_was_written(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ada = await live.user("ada")
        score_id, _ = await _chorale(live, ada, bars=8)
        url = f"/api/scores/{score_id}/agents/tasks"
        task = (
            await live.http.post(
                url, headers=bearer(ada), json={"agent": "aureon", "instruction": "harmonise"}
            )
        ).json()
        cancelled = await live.http.delete(f"{url}/{task['id']}", headers=bearer(ada))
        assert cancelled.status_code == 200
        deadline = time.monotonic() + 20
        while cancelled.json()["status"] not in ("cancelled", "done"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
            cancelled = await live.http.get(f"{url}/{task['id']}", headers=bearer(ada))
        assert cancelled.json()["status"] == "cancelled"
        score = await live.app.state.scores.document(score_id)
        assert score.raw_suggestions() == {}


async def test_tasks_per_user_per_minute(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path, agent_tasks_per_minute=2)) as live:
        ada = await live.user("ada")
        bob = await live.user("bob")
        score_id, _ = await _chorale(live, ada, bars=1)
        await live.http.put(
            f"/api/scores/{score_id}/access/bob", headers=bearer(ada), json={"role": "editor"}
        )
        url = f"/api/scores/{score_id}/agents/tasks"
        body = {"agent": "mia", "instruction": "analyse"}
        codes = [
            (await live.http.post(url, headers=bearer(ada), json=body)).status_code
            for _ in range(3)
        ]
        assert codes == [202, 202, 429]
        other = await live.http.post(url, headers=bearer(bob), json=body)
        assert other.status_code == 202  # per user


async def test_scripts_accept_per_measure_and_reject_the_rest(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ada = await live.user("ada")
        score_id, ids = await _chorale(live, ada, bars=2)
        url = f"/api/scores/{score_id}/agents/tasks"
        task = (
            await live.http.post(
                url, headers=bearer(ada), json={"agent": "aureon", "instruction": "harmonise"}
            )
        ).json()
        events = await _sse(live, f"{url}/{task['id']}/events", ada)
        assert events[-1]["type"] == "done" and len(events[-1]["suggestions"]) == 6
        first = await live.http.post(
            f"{url}/{task['id']}/accept",
            headers=bearer(ada),
            json={"measures": [ids["measures"][0]]},
        )
        assert first.status_code == 200 and len(first.json()["applied"]) == 3
        assert first.json()["stale"] == []
        rest = await live.http.post(f"{url}/{task['id']}/reject", headers=bearer(ada))
        assert rest.status_code == 200 and len(rest.json()["rejected"]) == 3
        score = await live.app.state.scores.document(score_id)
        statuses = sorted(s["status"] for s in score.raw_suggestions().values())
        assert statuses == ["applied"] * 3
        written = {
            (n.measure, n.part) for n in score.read().notes.values() if n.part != ids["parts"][0]
        }
        assert written == {(ids["measures"][0], part) for part in ids["parts"][1:]}


async def test_a_refused_mention_is_answered_in_the_chat(tmp_path: Path) -> None:
    from tests.collab_server.clients import YClient, wait_for

    async with live_server(settings_for(tmp_path, agent_tasks_per_minute=1)) as live:
        ada = await live.user("ada")
        score_id, _ = await _chorale(live, ada, bars=1)
        person = await YClient(live.ws(score_id, ada)).connect()
        await asyncio.wait_for(person.synced.wait(), 10)
        editor = ScoreEditor(person.score, Origin.client("ada"))
        editor.post_chat("ada", "@mia what key is this in?")
        await asyncio.sleep(0.3)
        editor.post_chat("ada", "@mia and the form?")

        def agent_lines() -> list[str]:
            return [m["text"] for m in person.score.raw_chat() if m.get("author_kind") == "agent"]

        await wait_for(
            lambda: (
                any(t.startswith("I can't do that") for t in agent_lines())
                and len(agent_lines()) >= 2
            ),
            timeout=15,
        )
        refusal = next(t for t in agent_lines() if t.startswith("I can't do that"))
        assert "per minute" in refusal
        await person.close()
