"""The REST API fuzzed from its own OpenAPI description (schemathesis, in process):
whatever the input, no response is a server error, authenticated or not."""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict
from pathlib import Path

import jwt
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from collab_server.api.json_body import MAX_JSON_DEPTH
from collab_server.api.system import describe
from collab_server.app import create_app
from collab_server.security.routes import declared_role
from tests.collab_server.security_helpers import settings_for

SECRET = "schemathesis-secret-" + "x" * 24
DATA = Path(tempfile.mkdtemp(prefix="orpheus-schemathesis-"))
APP = create_app(
    settings_for(
        DATA,
        jwt_secret=SECRET,
        rest_rate_per_ip=0,
        rest_rate_per_user=0,
        login_rate_per_ip=0,
        open_registration=True,
    )
)
PUBLIC = {getattr(route, "path", "") for route in APP.routes if declared_role(route) == "public"}
schema = schemathesis.openapi.from_dict(describe(APP.routes))
schema.app = APP


def admin_token() -> str:
    now = time.time()
    return jwt.encode(
        {"sub": "admin", "iat": int(now), "exp": int(now + 3600), "jti": "schemathesis"},
        SECRET,
        algorithm="HS256",
    )


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    admin = {"Authorization": f"Bearer {admin_token()}"}
    anonymous = case.call()
    if case.path.startswith("/api") and case.path not in PUBLIC:
        assert anonymous.status_code in (401, 405)  # no token: nothing happens
    else:
        assert anonymous.status_code < 500
    if "score_id" in (case.path_parameters or {}):  # reach the handlers of a real score
        created = (
            schema["/api/scores"]["POST"]
            .Case(body={"title": "fuzz"}, media_type="application/json")
            .call(headers=admin)
        )
        assert created.status_code == 201, created.text
        case.path_parameters = {**case.path_parameters, "score_id": created.json()["id"]}
    response = case.call(headers=admin)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )


# --- deep and huge JSON: what schemathesis's generators never produce -----------------


@st.composite
def hostile_json(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A JSON object body nested deeper than the limit (True) or shallow but huge: wide
    arrays, many keys, long strings, numbers of thousands of digits (False)."""
    key = draw(st.sampled_from(["username", "password", "title", "role", "name", "x"]))
    kind = draw(
        st.sampled_from(["list", "object", "mixed", "wide", "keys", "string", "digits", "floats"])
    )
    if kind in ("list", "object", "mixed"):
        levels = draw(st.integers(MAX_JSON_DEPTH + 1, 5000))
        opens = [
            b"[" if kind == "list" or (kind == "mixed" and i % 2) else b'{"k": '
            for i in range(levels)
        ]
        closes = [b"]" if o == b"[" else b"}" for o in reversed(opens)]
        return b'{"' + key.encode() + b'": ' + b"".join(opens) + b"1" + b"".join(
            closes
        ) + b"}", True
    size = draw(st.integers(1, 100_000))
    value = {
        "wide": b"[" + b",".join([b"[0]"] * size) + b"]",
        "keys": b"{" + b",".join(b'"k%d": 0' % i for i in range(size)) + b"}",
        "string": b'"' + b"\\u0041" * min(size, 150_000) + b'"',
        "digits": b"9" * min(size, 20_000),
        "floats": b"[" + b",".join([b"1e999", b"-1e999"] * min(size, 50_000)) + b"]",
    }[kind]
    return b'{"' + key.encode() + b'": ' + value + b"}", False


def test_deep_and_huge_json_bodies_never_fail_the_server() -> None:
    description = describe(APP.routes)
    routes = [
        (method.upper(), path)
        for path, methods in description["paths"].items()
        for method, op in methods.items()
        if isinstance(op, dict)
        and "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    assert routes
    admin = {"Authorization": f"Bearer {admin_token()}"}
    with TestClient(APP, raise_server_exceptions=False) as client:
        score = client.post("/api/scores", json={"title": "deep"}, headers=admin)
        params = {"score_id": score.json()["id"], "user_id": "admin"}

        @given(route=st.sampled_from(routes), case=hostile_json())
        @settings(
            max_examples=80,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(route: tuple[str, str], case: tuple[bytes, bool]) -> None:
            body, deep = case
            method, path = route
            url = path.format_map(defaultdict(lambda: "no-such-id", params))
            response = client.request(
                method, url, content=body, headers={**admin, "content-type": "application/json"}
            )
            assert response.status_code < 500, (method, path, response.text[:300])
            if deep and response.status_code != 404:  # 404: no such task, say
                assert response.status_code == 400, (method, path, response.text[:300])
                assert "levels deep" in response.json()["message"]

        check()
