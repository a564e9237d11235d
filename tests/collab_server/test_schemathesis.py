"""The REST API fuzzed from its own OpenAPI description (schemathesis, in process):
whatever the input, no response is a server error, authenticated or not."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import jwt
import schemathesis
from hypothesis import HealthCheck, settings

from collab_server.api.system import describe
from collab_server.app import create_app
from collab_server.security.gate import PUBLIC
from tests.collab_server.security_helpers import settings_for

SECRET = "schemathesis-secret-" + "x" * 24
DATA = Path(tempfile.mkdtemp(prefix="orpheus-schemathesis-"))
APP = create_app(settings_for(DATA, jwt_secret=SECRET, rest_rate_per_ip=0,
                              rest_rate_per_user=0, login_rate_per_ip=0,
                              open_registration=True))
schema = schemathesis.openapi.from_dict(describe(APP.routes))
schema.app = APP


def admin_token() -> str:
    now = time.time()
    return jwt.encode({"sub": "admin", "iat": int(now), "exp": int(now + 3600),
                       "jti": "schemathesis"}, SECRET, algorithm="HS256")


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    admin = {"Authorization": f"Bearer {admin_token()}"}
    anonymous = case.call()
    if case.path.startswith("/api") and case.path not in PUBLIC:
        assert anonymous.status_code in (401, 405)  # no token: nothing happens
    else:
        assert anonymous.status_code < 500
    if "score_id" in (case.path_parameters or {}):  # reach the handlers of a real score
        created = schema["/api/scores"]["POST"].Case(
            body={"title": "fuzz"}, media_type="application/json").call(headers=admin)
        assert created.status_code == 201, created.text
        case.path_parameters = {**case.path_parameters, "score_id": created.json()["id"]}
    response = case.call(headers=admin)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: "
        f"{response.text[:300]}")
