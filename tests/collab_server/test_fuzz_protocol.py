"""A short run of the protocol fuzzer (bench/fuzz_protocol.py runs 100,000+ cases), and
hypothesis-generated frames through the decoders."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.fuzz_protocol import fuzz
from collab_server.errors import OrpheusError
from collab_server.sync.protocol import decode_message
from collab_server.sync.update_check import check_update


async def test_fuzzed_frames_are_accepted_or_refused_never_crash() -> None:
    report = await fuzz(2_000, seed=1)
    assert report.crashes == [] and report.slow == []
    assert report.outcomes["protocol_violation"] > 1_000
    assert report.outcomes["accepted"] > 20  # the mutations still reach the apply path


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_a_protocol_error(frame: bytes) -> None:
    for check in (decode_message, lambda data: check_update(data, {})):
        with contextlib.suppress(OrpheusError):
            check(frame)
