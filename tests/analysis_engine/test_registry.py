"""The registry, the result envelope and JSON-serialisability."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ae_scores import (
    DECEPTIVE_THEN_AUTHENTIC,
    SATB_NAMES,
    build,
    satb,
)

from analysis_engine import (
    AnalysisContext,
    AnalysisSettings,
    UnknownAnalysis,
    build_table,
    names,
    run,
)
from analysis_engine.registry import analysis, get, run_all, unregister

BUILTIN = {"summary", "key", "harmony", "melody", "rhythm", "voice_leading"}


def test_builtin_analyses_are_registered_with_descriptions() -> None:
    assert set(names()) >= BUILTIN
    for name in BUILTIN:
        assert get(name).description


def test_run_wraps_results_in_an_envelope_with_the_version() -> None:
    b = build(["A"], 1, [(0, 0, 0, 1, ["C4"])])
    envelope = run("summary", build_table(b.data()), version={"clock": 7})
    assert envelope["analysis"] == "summary"
    assert envelope["version"] == {"clock": 7}
    assert envelope["format"] == 1
    assert envelope["result"]["notes"] == 1


def test_unknown_analysis_is_a_clear_error() -> None:
    b = build(["A"], 1, [])
    with pytest.raises(UnknownAnalysis, match=r"no analysis named 'nope'; known: .*key"):
        run("nope", build_table(b.data()))


def test_custom_analysis_registers_once_and_runs_on_a_context() -> None:
    @analysis("test_row_count")
    def row_count(ctx: AnalysisContext) -> dict[str, Any]:
        """Rows in the table."""
        return {"rows": len(ctx.table)}

    try:
        with pytest.raises(ValueError, match="already registered"):
            analysis("test_row_count")(lambda ctx: {})
        b = build(["A"], 1, [(0, 0, 0, 1, ["C4", "E4"])])
        assert run("test_row_count", build_table(b.data()))["result"] == {"rows": 2}
        assert get("test_row_count").description == "Rows in the table."
    finally:
        unregister("test_row_count")
    assert "test_row_count" not in names()


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="key profiles"):
        AnalysisSettings(key_profile="nonsense")
    with pytest.raises(ValueError, match="key_window"):
        AnalysisSettings(key_window=-1)


def test_every_result_is_strict_json_and_names_document_ids() -> None:
    b = build(SATB_NAMES, 3, satb(DECEPTIVE_THEN_AUTHENTIC))
    results = run_all(build_table(b.data()), version="v3")
    assert set(results) >= BUILTIN
    text = json.dumps(results, allow_nan=False)
    decoded = json.loads(text)
    assert decoded == results
    assert all(envelope["version"] == "v3" for envelope in results.values())
    measure_ids = {issue["measure"] for issue in results["voice_leading"]["result"]["issues"]}
    measure_ids |= {s["measure"] for s in results["harmony"]["result"]["slices"]}
    assert measure_ids <= set(b.measures)
    for issue in results["voice_leading"]["result"]["issues"]:
        assert set(issue["parts"]) <= set(b.parts)
        assert set(issue["notes"]) <= set(b.notes)


def test_an_empty_score_analyses_cleanly() -> None:
    b = build(["A"], 0, [])
    results = run_all(build_table(b.data()), version=0)
    assert results["summary"]["result"]["notes"] == 0
    assert results["harmony"]["result"] == {"slices": [], "cadences": []}
    assert results["key"]["result"]["measures"] == []
    json.dumps(results, allow_nan=False)


def test_odd_but_legal_content_analyses_without_error() -> None:
    b = build(
        ["Piano", "Voice"],
        3,
        [
            (0, 0, 0, "1/11", ["C4", "C4", "E#4"]),  # off the tick grid, doubled pitch
            (0, 0, 0, 1000, ["G3"], {"voice": 16}),  # sounds far past the end of the score
            (0, 0, "1/4096", "1/4096", ["B#9"]),
            (0, 1, 5, 1, ["C-0"]),  # starts after its bar ends
            (1, 1, 0, 0, ["D4"], {"grace": True}),
            (1, 0, 2, 2, ["F##5", "G5"], {"ties": ["start", "continue"]}),  # dangling ties
            (2, 0, 0, "99/7", ["A4"]),
        ],
        time="99/64",
    )
    results = run_all(build_table(b.data()), version=1)
    json.dumps(results, allow_nan=False)
    assert results["summary"]["result"]["notes"] == 7
    assert results["rhythm"]["result"]["measures"][0]["onsets"] == [5, 1]
