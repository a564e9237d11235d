"""Structured logs keep tokens out."""

from __future__ import annotations

import io
import json
import logging

from collab_server.logs import configure_logging


def test_tokens_in_urls_are_redacted() -> None:
    configure_logging("info", json=True)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]',
        "127.0.0.1:5000",
        "/ws/scores/s_1?token=eyJhbGciOi.secret.part&x=1",
    )
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert "eyJhbGciOi" not in line["message"]
    assert "/ws/scores/s_1?token=[redacted]&x=1" in line["message"]
    assert line["level"] == "INFO" and line["logger"] == "uvicorn.error"
