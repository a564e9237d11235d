"""Every third-party package the server's code imports is a declared dependency of the
package (pyproject.toml), not something another dependency happens to bring: openai 3
swapped httpx for httpx2 and a fresh install lost the webhook sender's import."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ("collab_server", "persistence", "score_model", "analysis_engine", "agents")


def _imported_top_levels() -> dict[str, str]:
    """Top-level third-party module -> one file importing it."""
    found: dict[str, str] = {}
    for package in RUNTIME:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in RUNTIME and top not in sys.stdlib_module_names:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        _normal(re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0]) for d in project["dependencies"]
    }
    distributions = importlib.metadata.packages_distributions()
    missing = {
        module: path
        for module, path in _imported_top_levels().items()
        if not {_normal(d) for d in distributions.get(module, [module])} & declared
    }
    assert not missing, f"imported but not declared in [project] dependencies: {missing}"
