"""Per-score access control, enforced the same on REST and WebSocket."""

from __future__ import annotations

import asyncio
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from score_model.ops import ScoreEditor
from score_model.origin import Origin
from tests.collab_server.clients import YClient, wait_for
from tests.collab_server.security_helpers import Live, bearer, live_server, settings_for


async def _connect(live: Live, score_id: str, token: str | None) -> YClient:
    client = await YClient(live.ws(score_id, token)).connect()
    await asyncio.wait_for(client.synced.wait(), 10)
    return client


async def _connect_with(live: Live, score_id: str, token: str, old: YClient) -> YClient:
    client = await YClient(live.ws(score_id, token), score=old.score).connect()
    await asyncio.wait_for(client.synced.wait(), 10)
    return client


async def _refused(live: Live, score_id: str, token: str | None) -> int | None:
    async with connect(live.ws(score_id, token), open_timeout=10) as ws:
        try:
            async with asyncio.timeout(10):
                while True:
                    await ws.recv()
        except ConnectionClosed:
            pass
        return ws.close_code


def _add_note(client: YClient) -> str:
    data = client.score.read()
    editor = ScoreEditor(client.score, Origin.client(str(client.client_id)))
    return editor.add_note(data.measures[0].id, data.parts[0].id, 0, 1, "C4")


def _server_notes(live: Live, score_id: str) -> set[str]:
    room = live.app.state.rooms.loaded(score_id)
    return set(room.score.read().notes) if room else set()


async def test_roles_on_rest(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ann, bob = await live.user("ann"), await live.user("bob")
        score = await live.score(ann, "Ann's")
        http = live.http
        assert (await http.get(f"/api/scores/{score}", headers=bearer(bob))).status_code == 403
        assert (await http.get("/api/scores", headers=bearer(bob))).json()["scores"] == []
        listed = (await http.get("/api/scores", headers=bearer(ann))).json()["scores"]
        assert [s["id"] for s in listed] == [score] and listed[0]["owner"] == "ann"

        grant = await http.put(
            f"/api/scores/{score}/access/bob", headers=bearer(ann), json={"role": "viewer"}
        )
        assert grant.status_code == 200, grant.text
        assert (await http.get(f"/api/scores/{score}", headers=bearer(bob))).status_code == 200
        assert [
            s["id"] for s in (await http.get("/api/scores", headers=bearer(bob))).json()["scores"]
        ] == [score]
        rename = {"title": "Bob's now"}
        assert (
            await http.patch(f"/api/scores/{score}", json=rename, headers=bearer(bob))
        ).status_code == 403
        assert (
            await http.post(f"/api/scores/{score}/versions", json={}, headers=bearer(bob))
        ).status_code == 403

        await http.put(
            f"/api/scores/{score}/access/bob", headers=bearer(ann), json={"role": "editor"}
        )
        assert (
            await http.patch(f"/api/scores/{score}", json=rename, headers=bearer(bob))
        ).status_code == 200
        # editors do not manage access and do not delete
        assert (
            await http.get(f"/api/scores/{score}/access", headers=bearer(bob))
        ).status_code == 403
        assert (await http.delete(f"/api/scores/{score}", headers=bearer(bob))).status_code == 403
        shared = (await http.get(f"/api/scores/{score}/access", headers=bearer(ann))).json()
        assert shared == {
            "owner": "ann",
            "grants": [{"user": "bob", "role": "editor", "granted_by": "ann"}],
        }
        # the owner's own role is not for changing, nor can ownership be given
        assert (
            await http.put(
                f"/api/scores/{score}/access/ann", headers=bearer(ann), json={"role": "viewer"}
            )
        ).status_code == 403
        assert (
            await http.put(
                f"/api/scores/{score}/access/bob", headers=bearer(ann), json={"role": "owner"}
            )
        ).status_code == 422
        assert (
            await http.put(
                f"/api/scores/{score}/access/nobody", headers=bearer(ann), json={"role": "viewer"}
            )
        ).status_code == 404

        assert (
            await http.delete(f"/api/scores/{score}/access/bob", headers=bearer(ann))
        ).status_code == 204
        assert (await http.get(f"/api/scores/{score}", headers=bearer(bob))).status_code == 403
        assert (await http.get("/api/scores/s_missing", headers=bearer(ann))).status_code == 404
        assert (await http.delete(f"/api/scores/{score}", headers=bearer(ann))).status_code == 204


async def test_websocket_refusals_and_viewers(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ann, bob, cat = (await live.user("ann"), await live.user("bob"), await live.user("cat"))
        score = await live.score(ann)
        assert await _refused(live, score, None) == 4401
        assert await _refused(live, score, "not-a-token") == 4401
        assert await _refused(live, score, cat) == 4403
        assert await _refused(live, "s_missing", ann) == 4404

        await live.http.put(
            f"/api/scores/{score}/access/bob", headers=bearer(ann), json={"role": "viewer"}
        )
        owner = await _connect(live, score, ann)
        viewer = await _connect(live, score, bob)
        note = _add_note(owner)
        await wait_for(lambda: note in viewer.score.read().notes, timeout=5)
        await viewer.set_presence({"user": "bob"})
        await wait_for(lambda: any(s == {"user": "bob"} for s in owner.presence.values()))

        sneaky = _add_note(viewer)  # refused by the server, seen by nobody
        await wait_for(lambda: bool(viewer.permission_denied), timeout=5)
        await asyncio.sleep(0.1)
        assert sneaky not in _server_notes(live, score)
        assert sneaky not in owner.score.read().notes
        assert viewer.close_code is None  # refused, not disconnected

        # an upgrade to editor closes read-only sessions with 1013: the client reconnects
        await live.http.put(
            f"/api/scores/{score}/access/bob", headers=bearer(ann), json={"role": "editor"}
        )
        assert await viewer.wait_closed() == 1013
        viewer = await _connect_with(live, score, bob, viewer)
        allowed = _add_note(viewer)
        await wait_for(lambda: allowed in owner.score.read().notes, timeout=5)
        # a downgrade to viewer applies in place
        await live.http.put(
            f"/api/scores/{score}/access/bob", headers=bearer(ann), json={"role": "viewer"}
        )
        refused = _add_note(viewer)
        await wait_for(lambda: bool(viewer.permission_denied), timeout=5)
        assert refused not in _server_notes(live, score)

        # removing access closes the user's live sessions with 4403, and only theirs
        await live.http.delete(f"/api/scores/{score}/access/bob", headers=bearer(ann))
        assert await viewer.wait_closed() == 4403
        assert owner.close_code is None
        await owner.close()


async def test_share_links(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ann = await live.user("ann")
        score, other = await live.score(ann), await live.score(ann, "other")
        made = await live.http.post(
            f"/api/scores/{score}/links", headers=bearer(ann), json={"role": "viewer"}
        )
        assert made.status_code == 201, made.text
        link, link_id = made.json()["token"], made.json()["id"]
        assert link.startswith("orl_")
        listed = (await live.http.get(f"/api/scores/{score}/links", headers=bearer(ann))).json()
        assert [x["id"] for x in listed["links"]] == [link_id]
        assert "token" not in listed["links"][0]
        http = live.http
        assert (await http.get(f"/api/scores/{score}", headers=bearer(link))).status_code == 200
        assert (
            await http.patch(f"/api/scores/{score}", json={"title": "x"}, headers=bearer(link))
        ).status_code == 403
        assert (await http.get(f"/api/scores/{other}", headers=bearer(link))).status_code == 403
        assert (await http.post("/api/scores", json={}, headers=bearer(link))).status_code == 403
        assert (await http.get(f"/api/scores/{score}?token={link}")).status_code == 200

        owner = await _connect(live, score, ann)
        guest = await _connect(live, score, link)
        sneaky = _add_note(guest)
        await wait_for(lambda: bool(guest.permission_denied), timeout=5)
        assert sneaky not in _server_notes(live, score)

        editing = (
            await http.post(
                f"/api/scores/{score}/links", headers=bearer(ann), json={"role": "editor"}
            )
        ).json()["token"]
        editor = await _connect(live, score, editing)
        note = _add_note(editor)
        await wait_for(lambda: note in owner.score.read().notes, timeout=5)

        revoked = await http.delete(f"/api/scores/{score}/links/{link_id}", headers=bearer(ann))
        assert revoked.status_code == 204
        assert await guest.wait_closed() == 4403
        assert editor.close_code is None
        assert (await http.get(f"/api/scores/{score}", headers=bearer(link))).status_code == 401
        assert await _refused(live, score, link) == 4401
        await editor.close()
        await owner.close()
