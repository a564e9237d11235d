"""The stock pycrdt-websocket server, measured beside Orpheus in bench/collab/run.py.

``WebsocketServer`` (in-memory rooms, no store) behind ``ASGIServer`` under uvicorn (its
``websockets-sansio`` protocol, which ``orpheus serve``'s own extends), with
WebSocket per-message deflate off (as Orpheus) and an ``exception_handler`` so that a
client dropping its connection mid-broadcast does not stop the whole server. Any path is
a room name, so clients use the same ``/ws/scores/{id}`` URLs as with Orpheus.

Usage: python -m bench.collab.stock_server --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from logging import Logger

import uvicorn
from pycrdt.websocket import ASGIServer, WebsocketServer


def keep_going(exception: Exception, log: Logger) -> bool:
    """Mark every exception handled: the server goes on serving other clients."""
    return True


async def serve(host: str, port: int) -> None:
    websocket_server = WebsocketServer(exception_handler=keep_going, log=logging.getLogger("stock"))
    app = ASGIServer(websocket_server)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    async with websocket_server:
        await uvicorn.Server(config).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
