"""The analysis child process: ``python -m analysis_engine.compute_child CONFIG``.

Started by :class:`~analysis_engine.compute_process.ProcessCompute`, it holds the warm
scores (:class:`~analysis_engine.warm.WarmScores`) and answers one request at a time over
a pipe private to its parent: requests on stdin, replies on the process's original
stdout (file descriptor 1 is then pointed at stderr, so that a library printing cannot
corrupt the stream). Each frame is a 4-byte big-endian length and a pickle; both ends
are this code base, and nothing else can write to the pipe.

- request: ``(operation, args)``, an operation being a method of ``WarmScores``
  (:data:`OPERATIONS`);
- reply: ``("ok", value)``, ``("not_held", score_id)`` or
  ``("error", type name, message, traceback)``.

The child exits when its stdin closes (the parent closed it, or died). It ignores SIGINT,
which a terminal sends to the whole process group: its parent decides when it stops.
``CONFIG`` is JSON: ``{"capacity": 32, "analyses": null}``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import pickle
import signal
import struct
import sys
import traceback
from typing import Any, BinaryIO

from analysis_engine.warm import NotHeld, WarmScores
from persistence.scheduling import background_thread

HEADER = struct.Struct(">I")
#: The operations a parent may ask for (methods of :class:`WarmScores`).
OPERATIONS = frozenset({"held", "load", "apply", "analyse", "analyse_state", "forget"})


def encode(message: Any) -> bytes:
    """One frame: length and pickle."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def read_frame(stream: BinaryIO) -> Any | None:
    """The next message, or ``None`` at the end of the stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def answer(scores: WarmScores, request: Any) -> tuple[Any, ...]:
    """The reply to one request."""
    operation, args = request
    if operation not in OPERATIONS:
        return ("error", "ValueError", f"unknown operation {operation!r}", "")
    try:
        return ("ok", getattr(scores, operation)(*args))
    except NotHeld as exc:
        return ("not_held", exc.args[0])
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc), traceback.format_exc())


def serve(scores: WarmScores, requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer requests until the end of ``requests``."""
    while (request := read_frame(requests)) is not None:
        replies.write(encode(answer(scores, request)))
        replies.flush()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    background_thread()  # woken by a request, it does not preempt the server's event loop
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, never into the reply stream
    config = json.loads(argv[1]) if len(argv) > 1 else {}
    logging.basicConfig(
        level=logging.WARNING, format="orpheus-analysis-process %(levelname)s %(message)s"
    )
    scores = WarmScores(config.get("capacity", 32), config.get("analyses"))
    gc.freeze()  # the imported modules: never scanned again
    with contextlib.suppress(BrokenPipeError):  # the parent went away mid-reply
        serve(scores, sys.stdin.buffer, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
