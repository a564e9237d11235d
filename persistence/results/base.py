"""Analysis results: the :class:`ResultStore` protocol and the document version they name.

A result describes one *document version*: ``DocVersion(epoch, seq)``, the score's epoch
and the update-log seq of the last update the analysed state contains (a snapshot at
seq ``S`` and ``S`` log entries give the same version). Versions order as tuples: a new
epoch (reset, restore) is newer than anything in an older one, and within an epoch a
higher seq is newer. Every process computes the same version for the same stored state,
so results from several workers compare without coordination.

A store keeps, per score and analysis set, the newest live result ("latest": a save
older than the stored one is refused, so stale results never overwrite newer ones) and
the results of named versions (kept until the score is deleted).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Protocol

from persistence.base import check_score_id

_TOKEN = re.compile(r"e(\d{1,18})\.(\d{1,18})")


class EncodedJson(str):
    """JSON text as ``json.dumps`` wrote it: :meth:`ResultStore.save` does not parse it
    again to check it (a large result's parse would hold the caller's event loop for
    milliseconds). Analysis jobs save their results as this; any other ``str`` is
    parsed and refused if it is not JSON."""

    __slots__ = ()


@dataclass(frozen=True, slots=True, order=True)
class DocVersion:
    """A stored document version: ``(epoch, seq)``, ordered."""

    epoch: int
    seq: int

    def __post_init__(self) -> None:
        if self.epoch < 0 or self.seq < 0:
            raise ValueError("epoch and seq must be >= 0")

    @property
    def token(self) -> str:
        """The text form used in URLs and result envelopes: ``e<epoch>.<seq>``."""
        return f"e{self.epoch}.{self.seq}"

    @classmethod
    def parse(cls, token: str) -> DocVersion:
        """Read a :attr:`token`; ``ValueError`` if malformed."""
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise ValueError(f"invalid document version {token!r}: expected e<epoch>.<seq>")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return self.token


@dataclass(frozen=True, slots=True)
class StoredResult:
    """One stored analysis result. ``result_json`` is the JSON text of the results;
    ``version_id`` names the stored version it belongs to (``None``: a live result)."""

    score_id: str
    analysis_set: str
    version: DocVersion
    result_json: str
    version_id: str | None = None
    computed_at: float = 0.0
    duration_ms: float | None = None


class ResultStore(Protocol):
    async def save(
        self,
        score_id: str,
        analysis_set: str,
        version: DocVersion,
        result_json: str,
        *,
        version_id: str | None = None,
        duration_ms: float | None = None,
    ) -> bool:
        """Store a result. Live results (``version_id=None``) replace the stored latest
        unless it is newer: then nothing changes and ``False`` is returned. Results of a
        named version (``version_id``) are kept beside the latest and always saved.
        ``ValueError`` if ``result_json`` is not JSON text or an id is invalid."""
        ...

    async def get_latest(self, score_id: str, analysis_set: str = "all") -> StoredResult | None: ...

    async def get_for_version(
        self, score_id: str, version: DocVersion | str, analysis_set: str = "all"
    ) -> StoredResult | None:
        """The result of a named version (``version`` is its id) or of a live version
        (a :class:`DocVersion`: found only while it is the latest)."""
        ...

    async def delete_score(self, score_id: str) -> None:
        """Forget every result of a score."""
        ...

    async def close(self) -> None: ...


def check_result(
    score_id: str, analysis_set: str, result_json: str, version_id: str | None
) -> None:
    """The shared argument checks of :meth:`ResultStore.save`."""
    check_score_id(score_id)
    if not isinstance(analysis_set, str) or not 0 < len(analysis_set) <= 200:
        raise ValueError(f"invalid analysis set {analysis_set!r}")
    if version_id is not None and (
        not isinstance(version_id, str) or not 0 < len(version_id) <= 128
    ):
        raise ValueError(f"invalid version id {version_id!r}")
    if not isinstance(result_json, str):
        raise ValueError("result_json must be JSON text")
    if isinstance(result_json, EncodedJson):
        return
    try:
        json.loads(result_json)
    except ValueError as exc:
        raise ValueError(f"result_json is not JSON: {exc}") from None
