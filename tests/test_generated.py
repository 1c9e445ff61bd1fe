"""The generated files are what their generators write from the committed result files: nothing
typed by hand, nothing stale (and a refactoring that changes a table shows here)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
RESULTS = BENCH / "results"


@pytest.fixture(scope="module")
def scripts():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    try:
        yield lambda name: importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def _json(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def test_results_md(scripts) -> None:  # type: ignore[no-untyped-def]
    assert scripts("make_results").render() == (BENCH / "RESULTS.md").read_text(), "run python benchmarks/make_results.py"


@pytest.mark.parametrize(
    ("script", "result", "page"),
    [
        ("check_validity", "check-validity.json", "CHECK_VALIDITY.md"),
        ("detector_comparison", "detector-comparison.json", "DETECTOR_COMPARISON.md"),
        ("memorization_tables", "memorization.json", "MEMORIZATION.md"),
        ("marks_tables", "marks.json", "MARKS.md"),
    ],
)
def test_rendered_pages(scripts, script: str, result: str, page: str) -> None:  # type: ignore[no-untyped-def]
    assert scripts(script).render(_json(result)) == (BENCH / page).read_text()


def test_readme_blocks(scripts) -> None:  # type: ignore[no-untyped-def]
    readme = (BENCH / "README.md").read_text()
    peers = _json("peer_agreement.json")
    dtype = _json("dtype-agreement.json")["rows"]
    tables = {
        "scorer": scripts("bench_scorer").table(_json("scorer.json")),
        "long": scripts("bench_long_document").table(_json("long_document.json")),
        "seam": scripts("bench_seam").table(_json("seam.json")),
        "windows": scripts("bench_windows").table(_json("windows.json")),
        "http": scripts("bench_http").table(_json("http.json")),
        "load-test": scripts("load_test").table(_json("load_test.json")),
        "dtype-speed-cpu": scripts("bench_dtype").table(_json("dtype-cpu.json")),
        "peer-agreement": scripts("peer_agreement").table(peers["results"], peers["command"]),
        "dtype": scripts("dtype_agreement").table(dtype) + "\n" + scripts("dtype_agreement").summary(dtype),
        "gradient-memory": scripts("gradient_memory").table(_json("gradient-memory.json")["rows"]),
        "shared-prefix": scripts("bench_shared_prefix").table(_json("shared-prefix.json")),
    }
    for name, md in tables.items():
        start, end = scripts("readme_block").markers(name)
        block = readme.split(start)[1].split(end)[0]
        assert md.strip() in block, f"benchmarks/README.md block {name} is not what its script writes from the result file"
