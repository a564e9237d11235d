"""Hostile JSON bodies on every JSON route of the OpenAPI description: nested thousands
of levels deep (which made Python's parser raise RecursionError: HTTP 500), just past the
nesting limit, not an object, not UTF-8, too big. Each gets a 4xx with a clear message,
never a 500, login included and without a token."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from collab_server.api.json_body import MAX_JSON_DEPTH, parse_json_object, too_deep
from collab_server.errors import BadRequest
from tests.collab_server.security_helpers import bearer, live_server, settings_for

DEEP = 2000


class Filled(dict[str, str]):
    """Path parameters, with a made-up id for those the test has no object for."""

    def __missing__(self, key: str) -> str:
        return f"no-such-{key}"


def deep_list(levels: int) -> bytes:
    return b'{"username": ' + b"[" * levels + b"]" * levels + b"}"


def deep_object(levels: int) -> bytes:
    return b'{"title": ' + b'{"a": ' * levels + b"1" + b"}" * levels + b"}"


def json_routes(description: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, methods in description["paths"].items()
        for method, operation in methods.items()
        if isinstance(operation, dict)
        and "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def test_parse_json_object_refuses_what_handlers_cannot_take() -> None:
    assert parse_json_object(b"") == {}
    assert parse_json_object(b'{"a": [[1]], "s": "[[[[["}') == {"a": [[1]], "s": "[[[[["}
    within = b'{"a": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    assert parse_json_object(within)  # the object itself is one level
    for body, message in (
        (deep_list(DEEP), "levels deep"),
        (deep_list(MAX_JSON_DEPTH), "levels deep"),
        (deep_object(DEEP), "levels deep"),
        (b"[1]", "JSON object"),
        (b'{"a": 1', "not valid JSON"),
        (b'{"a": "\xff"}', "not valid JSON"),
        (b'{"n": ' + b"9" * 5000 + b"}", "not valid JSON"),
    ):
        with pytest.raises(BadRequest, match=message):
            parse_json_object(body)


def test_the_depth_check_is_linear_and_cheap() -> None:
    wide = json.loads(b'{"a": [' + b",".join([b"[[1]]"] * 100_000) + b"]}")
    started = time.perf_counter()
    assert not too_deep(wide, MAX_JSON_DEPTH)
    assert time.perf_counter() - started < 1.0  # about 30 ms here; a loose bound


async def test_every_json_route_answers_400_to_deep_bodies(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, rest_rate_per_ip=0, rest_rate_per_user=0)
    async with live_server(settings) as live:
        admin = await live.login("admin", "admin-password")
        score = await live.score(admin)
        bob = await live.http.post(
            "/api/auth/register",
            headers=bearer(admin),
            json={"username": "bob", "password": "password-1"},
        )
        params = {"score_id": score, "user_id": bob.json()["id"]}
        description = (await live.http.get("/openapi.json")).json()
        routes = json_routes(description)
        assert ("POST", "/api/auth/login") in routes and len(routes) >= 8
        for method, path in routes:
            known = set(re.findall(r"{(\w+)}", path)) <= set(params)
            url = path.format_map(Filled(params))
            for body in (deep_list(DEEP), deep_object(DEEP), deep_list(MAX_JSON_DEPTH + 1)):
                for headers in ({}, bearer(admin)):
                    response = await live.http.request(
                        method,
                        url,
                        content=body,
                        headers={**headers, "content-type": "application/json"},
                    )
                    if not headers and response.status_code in (401, 403):
                        continue  # refused before the body is read: as good
                    if not known and response.status_code == 404:
                        continue  # no such task (say): refused before the body is read
                    assert response.status_code == 400, (method, path, response.text)
                    assert "levels deep" in response.json()["message"], response.text
            # over the limit of a JSON body (uploads have their own, larger, limit)
            huge = b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
            response = await live.http.request(
                method,
                url,
                content=huge,
                headers={**bearer(admin), "content-type": "application/json"},
            )
            expected = {201} if (method, path) == ("POST", "/api/scores") else {413}
            if not known:
                expected.add(404)
            assert response.status_code in expected, (method, path, response.status_code)
        assert (await live.http.get("/healthz")).status_code == 200
