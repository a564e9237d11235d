"""Accounts and credentials over REST, first start, secrets and the CLI commands."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from collab_server.app import create_app
from collab_server.cli.main import main
from collab_server.security.authenticator import load_secret
from collab_server.settings import Settings
from tests.collab_server.security_helpers import ADMIN_PASSWORD, bearer, settings_for


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(tmp_path, open_registration=True))) as test_client:
        yield test_client


def login(client: TestClient, name: str, password: str) -> str:
    response = client.post("/api/auth/login", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_every_api_route_needs_a_token_except_the_public_ones(client: TestClient) -> None:
    refused = client.get("/api/scores")
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthenticated"
    assert refused.headers["www-authenticate"] == "Bearer"
    for path in ("/api/scores/s_x", "/api/auth/me", "/api/auth/tokens", "/api/scores/s_x/versions"):
        assert client.get(path).status_code == 401, path
    assert client.post("/api/scores", json={}).status_code == 401
    assert client.get("/api/scores", headers=bearer("garbage")).status_code == 401
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_register_login_me_logout(client: TestClient) -> None:
    made = client.post("/api/auth/register", json={"username": "ann", "password": "secret-ann"})
    assert made.status_code == 201, made.text
    assert made.json()["id"] == "ann" and not made.json()["is_admin"]
    assert (
        client.post(
            "/api/auth/register", json={"username": "ann", "password": "another-pw"}
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/auth/register", json={"username": "Bad Name!", "password": "secret-xx"}
        ).status_code
        == 422
    )
    assert (
        client.post("/api/auth/register", json={"username": "short", "password": "x"}).status_code
        == 400
    )
    assert (
        client.post(
            "/api/auth/register",
            json={  # only admins make admins
                "username": "eve",
                "password": "secret-eve",
                "is_admin": True,
            },
        ).status_code
        == 403
    )
    for wrong in (
        {"username": "ann", "password": "nope-nope"},
        {"username": "nobody", "password": "secret-ann"},
        {},
    ):
        response = client.post("/api/auth/login", json=wrong)
        assert response.status_code == 401 and "password" in response.json()["message"]

    token = login(client, "ann", "secret-ann")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "ann" and claims["exp"] - claims["iat"] == 12 * 3600
    assert client.get("/api/auth/me", headers=bearer(token)).json()["id"] == "ann"
    other = login(client, "ann", "secret-ann")
    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/auth/me", headers=bearer(other)).status_code == 200


def test_password_change_ends_other_sessions(client: TestClient) -> None:
    client.post("/api/auth/register", json={"username": "ann", "password": "first-pass"})
    first, second = login(client, "ann", "first-pass"), login(client, "ann", "first-pass")
    wrong = client.post(
        "/api/auth/password",
        headers=bearer(first),
        json={"old_password": "bad-guess", "new_password": "second-pass"},
    )
    assert wrong.status_code == 401
    changed = client.post(
        "/api/auth/password",
        headers=bearer(first),
        json={"old_password": "first-pass", "new_password": "second-pass"},
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.json()["access_token"]
    assert client.get("/api/auth/me", headers=bearer(fresh)).status_code == 200
    for old in (first, second):
        assert client.get("/api/auth/me", headers=bearer(old)).status_code == 401
    assert (
        client.post(
            "/api/auth/login", json={"username": "ann", "password": "first-pass"}
        ).status_code
        == 401
    )
    login(client, "ann", "second-pass")


def test_api_tokens(client: TestClient) -> None:
    client.post("/api/auth/register", json={"username": "ann", "password": "secret-ann"})
    session = login(client, "ann", "secret-ann")
    made = client.post(
        "/api/auth/tokens", headers=bearer(session), json={"name": "ci", "expires_in_days": 30}
    )
    assert made.status_code == 201, made.text
    secret, token_id = made.json()["token"], made.json()["id"]
    assert secret.startswith("orp_") and made.json()["expires_at"]
    listed = client.get("/api/auth/tokens", headers=bearer(secret)).json()["tokens"]
    assert [t["id"] for t in listed] == [token_id] and "token" not in listed[0]
    assert client.post("/api/scores", json={}, headers=bearer(secret)).status_code == 201
    assert (
        client.post(
            "/api/auth/tokens", headers=bearer(session), json={"expires_in_days": 0}
        ).status_code
        == 422
    )
    assert client.delete(f"/api/auth/tokens/{token_id}", headers=bearer(session)).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(secret)).status_code == 401
    assert client.delete("/api/auth/tokens/t_unknown", headers=bearer(session)).status_code == 404


def test_forged_and_expired_tokens_are_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, jwt_secret="s" * 40)
    with TestClient(create_app(settings)) as client:
        now = time.time()
        claims = {"sub": "admin", "iat": int(now), "exp": int(now + 60), "jti": "j1"}
        good = jwt.encode(claims, "s" * 40, algorithm="HS256")
        assert client.get("/api/auth/me", headers=bearer(good)).status_code == 200
        forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
        expired = jwt.encode({**claims, "exp": int(now - 10)}, "s" * 40, algorithm="HS256")
        unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
        ghost = jwt.encode({**claims, "sub": "ghost"}, "s" * 40, algorithm="HS256")
        for token in (forged, expired, unsigned, ghost, good + "x"):
            assert client.get("/api/auth/me", headers=bearer(token)).status_code == 401


def test_closed_registration_needs_an_admin(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path))) as client:
        body = {"username": "bob", "password": "secret-bob"}
        assert client.post("/api/auth/register", json=body).status_code == 403
        admin = login(client, "admin", ADMIN_PASSWORD)
        assert client.get("/api/auth/me", headers=bearer(admin)).json()["is_admin"]
        assert (
            client.post("/api/auth/register", json=body, headers=bearer(admin)).status_code == 201
        )


def test_first_start_creates_an_admin_with_a_password_shown_once(tmp_path: Path) -> None:
    shown: list[str] = []
    settings = Settings(data_dir=tmp_path, log_json=False)  # embedded SQLite, no password
    with TestClient(create_app(settings, announce=shown.append)) as client:
        assert len(shown) == 1
        password = shown[0].split("password '")[1].split("'")[0]
        login(client, "admin", password)
    with TestClient(create_app(settings, announce=shown.append)) as client:
        assert len(shown) == 1  # not on later starts: the account exists
        login(client, "admin", password)  # same secret file, same database
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600


def test_secret_is_required_outside_embedded_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ORPHEUS_JWT_SECRET"):
        load_secret(Settings(data_dir=tmp_path), embedded=False)
    assert load_secret(Settings(data_dir=tmp_path, jwt_secret="given"), embedded=False) == "given"
    generated = load_secret(Settings(data_dir=tmp_path), embedded=True)
    assert generated == load_secret(Settings(data_dir=tmp_path), embedded=True)


def test_auth_can_be_turned_off(tmp_path: Path) -> None:
    with TestClient(create_app(settings_for(tmp_path, auth_enabled=False))) as client:
        assert client.post("/api/scores", json={}).status_code == 201
        assert client.get("/api/scores").status_code == 200


def test_cli_user_add_and_token_create(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"ORPHEUS_DATA_DIR": str(tmp_path)}
    added = runner.invoke(
        main, ["user", "add", "carol", "--admin", "--password", "carol-pass"], env=env
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(main, ["user", "add", "carol", "--password", "carol-pass"], env=env)
    assert again.exit_code != 0 and "exists" in again.output
    made = runner.invoke(main, ["token", "create", "carol"], env=env)
    assert made.exit_code == 0, made.output
    secret = made.output.strip()
    assert secret.startswith("orp_")
    missing = runner.invoke(main, ["token", "create", "nobody"], env=env)
    assert missing.exit_code != 0 and "no user" in missing.output
    with TestClient(
        create_app(Settings(data_dir=tmp_path, log_json=False), announce=lambda text: None)
    ) as client:
        me = client.get("/api/auth/me", headers=bearer(secret))
        assert me.status_code == 200 and me.json()["is_admin"]
        login(client, "carol", "carol-pass")


def test_cors_comes_from_settings(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, cors_origins=("https://app.example",))
    with TestClient(create_app(settings)) as client:
        preflight = client.options(
            "/api/scores",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        refused = client.get("/api/scores", headers={"Origin": "https://app.example"})
        assert refused.status_code == 401  # the browser can read why
        assert refused.headers["access-control-allow-origin"] == "https://app.example"
        other = client.options(
            "/api/scores",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers


async def test_two_instances_starting_at_once_create_one_admin() -> None:
    """Both see no account, both try to create ``admin``: one wins, neither fails."""
    import asyncio

    from collab_server.security.authenticator import Authenticator
    from collab_server.security.wiring import ensure_admin
    from persistence.accounts.memory import MemoryAccountStore

    class RacingStore(MemoryAccountStore):  # both instances count before either creates
        async def count_users(self) -> int:
            count = await super().count_users()
            await asyncio.sleep(0.05)
            return count

    accounts = RacingStore()
    instances = [Authenticator(accounts, secret="s" * 32) for _ in range(2)]
    shown: list[str] = []
    created = await asyncio.gather(*(ensure_admin(auth, "", shown.append) for auth in instances))
    assert sorted(created) == [False, True] and len(shown) == 1
    assert await accounts.count_users() == 1
