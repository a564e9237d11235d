"""``orpheus login`` against a running server: the token printed or stored, the server's
own message on a wrong password."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

from click.testing import CliRunner

from collab_server.cli.main import main
from tests.collab_server.processes import free_port
from tests.collab_server.security_helpers import ADMIN_PASSWORD, bearer, live_server, settings_for


async def test_login_prints_or_saves_a_token_and_shows_the_servers_refusal(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        server = str(live.http.base_url)
        runner = CliRunner()

        def login(*args: str) -> tuple[int, str, str]:
            done = runner.invoke(main, ["login", "--server", server, *args])
            return done.exit_code, done.stdout, done.stderr

        code, out, _ = await asyncio.to_thread(login, "--password", ADMIN_PASSWORD)
        assert code == 0
        token = out.strip()
        me = await live.http.get("/api/auth/me", headers=bearer(token))
        assert me.status_code == 200 and me.json()["id"] == "admin"

        code, out, err = await asyncio.to_thread(login, "--password", "wrong-password")
        assert code == 1 and out == ""
        assert "login refused (401)" in err and "password" in err and "Traceback" not in err

        saved = tmp_path / "token"
        code, out, _ = await asyncio.to_thread(
            login, "--password", ADMIN_PASSWORD, "--save", str(saved)
        )
        assert code == 0 and out == ""
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        again = await live.http.get("/api/auth/me", headers=bearer(saved.read_text().strip()))
        assert again.status_code == 200


def test_login_to_no_server_says_so_in_one_line() -> None:
    done = CliRunner().invoke(
        main, ["login", "--server", f"http://127.0.0.1:{free_port()}", "--password", "whatever-1"]
    )
    assert done.exit_code == 1
    assert done.stderr.startswith("Error: cannot reach http://127.0.0.1:")
    assert len(done.stderr.strip().splitlines()) == 1
