"""``orpheus agent run`` against a running server, showing the task's progress."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from collab_server.cli.main import main
from tests.agents.test_agents_server import _chorale
from tests.collab_server.security_helpers import live_server, settings_for


async def test_agent_run_shows_progress_until_done(tmp_path: Path) -> None:
    async with live_server(settings_for(tmp_path)) as live:
        ada = await live.user("ada")
        score_id, _ = await _chorale(live, ada, bars=2)
        server = str(live.http.base_url)
        runner = CliRunner()
        result = await asyncio.to_thread(
            runner.invoke,
            main,
            [
                "agent",
                "run",
                score_id,
                "harmonise bars 1-2",
                "--agent",
                "aureon",
                "--server",
                server,
                "--token",
                ada,
            ],
        )
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith("task t_") and "aureon" in lines[0]
        assert any("wrote" in line for line in lines)
        assert any("quality gate: faults" in line and "offered" in line for line in lines)
        assert any("done: Four-part harmonisation" in line for line in lines)
        assert lines[-1] == "6 suggestion(s) wait for review"

        refused = await asyncio.to_thread(
            runner.invoke,
            main,
            [
                "agent",
                "run",
                score_id,
                "x",
                "--agent",
                "nobody",
                "--server",
                server,
                "--token",
                ada,
            ],
        )
        assert refused.exit_code == 1 and "422" in refused.output
        listed = await asyncio.to_thread(
            runner.invoke, main, ["agent", "list", "--server", server, "--token", ada]
        )
        assert listed.exit_code == 0 and "aureon" in listed.output
