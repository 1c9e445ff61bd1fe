"""The package's layout: which stage each module belongs to, and what it may import.

The flow is text -> tokens -> statistics -> detectors -> metrics -> verdicts, and the modules
are ordered the same way: each stage imports only from itself and from earlier stages, ``bench``
and ``check`` (two uses of the same results) never import each other, and no import cycle runs
at import time (imports under ``TYPE_CHECKING`` do not run, so they may close a circle, but they
still obey the stage order). Read with ``ast``, without importing anything.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llm_mia"

STAGES: dict[str, tuple[int, tuple[str, ...]]] = {
    # stage: (rank, the modules it holds: a name covers the module and everything under it)
    "core": (0, ("errors", "types", "views", "registry", "strings", "settings", "progress")),
    "io": (1, ("data", "readers", "epub", "gutenberg", "outputs", "freq")),
    "backends": (2, ("backends", "models", "serve")),
    "scoring": (3, ("scoring", "cache")),
    "detectors": (4, ("detectors",)),
    "runner": (5, ("pipeline", "pools")),
    "evaluation": (6, ("metrics", "evaluation", "baseline", "tables", "plots", "frames")),
    "bench": (7, ("benchmark", "suites", "controlled")),
    "check": (7, ("check", "inference", "excerpts", "report", "shading", "demo")),
    "cli": (8, ("cli", "cli_common", "cli_check", "cli_freq", "cli_serve")),
}
FACADE = "llm_mia"
"""The package's ``__init__``: it gathers the public names of every stage, so it imports from all
of them, and no module imports from it."""

KNOWN_BACK_ARROWS: set[tuple[str, str]] = {
    # imports that point to a later stage, to be removed by the move (issue 23); the test fails
    # when one appears that is not listed here, and when one listed here is gone
    ("llm_mia.backends", "llm_mia.scoring"),
    ("llm_mia.backends.hf", "llm_mia.scoring"),
    ("llm_mia.cli", "llm_mia"),
}
KNOWN_CYCLES: set[frozenset[str]] = {
    # circles (strongly connected components), likewise to be broken by the move
    frozenset({"llm_mia.backends", "llm_mia.backends.hf", "llm_mia.scoring"}),
    frozenset({"llm_mia.check", "llm_mia.report"}),
    frozenset({"llm_mia.controlled", "llm_mia.suites"}),
    frozenset({"llm_mia.evaluation", "llm_mia.tables"}),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage_of(module: str) -> str:
    """The stage of ``llm_mia.<...>``; the facade is its own."""
    if module == FACADE:
        return "facade"
    rest = module.removeprefix("llm_mia.")
    for stage, (_, names) in STAGES.items():
        if any(rest == n or rest.startswith(n + ".") for n in names):
            return stage
    raise AssertionError(f"{module} belongs to no stage: add it to STAGES in {Path(__file__).name}")


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return inside


def imports(module: str) -> list[tuple[str, bool, list[str]]]:
    """``(imported module, type-only, names)`` for each first-party import in ``module``; ``from
    pkg import sub`` names the submodule ``pkg.sub`` where ``sub`` is one."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    type_only = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, bool, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != FACADE and not target.startswith(FACADE + "."):
                continue
            names = [a.name for a in node.names]
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            rest = [n for n in names if f"{target}.{n}" not in MODULES]
            out += [(s, id(node) in type_only, []) for s in subs]
            if rest:
                out.append((target, id(node) in type_only, rest))
        elif isinstance(node, ast.Import):
            out += [(a.name, id(node) in type_only, []) for a in node.names if a.name.split(".")[0] == FACADE]
    return out


def points_back(here: str, there: str) -> bool:
    """Whether an import from stage ``here`` of stage ``there`` goes against the flow: to a later
    stage, to a different stage of the same rank (bench and check), or to the facade."""
    if here == "facade" or here == there:
        return False
    return there == "facade" or STAGES[there][0] >= STAGES[here][0]


def back_arrows() -> set[tuple[str, str]]:
    return {(m, t) for m in MODULES for t, _, _ in imports(m) if points_back(stage_of(m), stage_of(t))}


def cycles() -> set[frozenset[str]]:
    """Strongly connected components of more than one module in the graph of all first-party
    imports (Tarjan's algorithm): those that run at import time, those inside functions, and
    type-only ones, for a circle of types is still a circle to a reader."""
    return strongly_connected({m: sorted({t for t, _, _ in imports(m) if t in MODULES and t != m}) for m in MODULES})


def strongly_connected(graph: dict[str, list[str]]) -> set[frozenset[str]]:
    """The components of more than one node of a directed graph (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_stage() -> None:
    for module in MODULES:
        stage_of(module)


def test_no_import_points_to_a_later_stage() -> None:
    found = back_arrows()
    assert found - KNOWN_BACK_ARROWS == set(), "imports against the flow (a stage imports only from earlier ones)"
    assert KNOWN_BACK_ARROWS - found == set(), "listed back-arrows that are gone: remove them from KNOWN_BACK_ARROWS"


def test_no_import_cycle() -> None:
    found = cycles()
    assert found - KNOWN_CYCLES == set(), "modules that import each other in a circle"
    assert KNOWN_CYCLES - found == set(), "listed cycles that are gone: remove them from KNOWN_CYCLES"


def test_no_private_name_crosses_a_stage() -> None:
    crossing = [
        (m, t, n) for m in MODULES for t, _, names in imports(m) for n in names if n.startswith("_") and not n.startswith("__") and stage_of(m) != stage_of(t)
    ]
    assert crossing == []


def test_the_checks_themselves() -> None:
    """The cycle finder sees circles, the stage rule sees back-arrows, an unknown module fails."""
    assert strongly_connected({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": []}) == {frozenset("abc")}
    assert strongly_connected({"a": ["b"], "b": [], "c": ["a", "b"]}) == set()
    assert points_back("core", "cli") and points_back("bench", "check") and points_back("cli", "facade")
    assert not points_back("cli", "core") and not points_back("facade", "cli") and not points_back("check", "check")
    with pytest.raises(AssertionError):
        stage_of("llm_mia.no_such_module")


# The public names. Adding one is a choice (add it here); losing one breaks users' code.
PUBLIC = {
    "llm_mia": [
        "BenchResult",
        "CheckResult",
        "CheckSettings",
        "CollectionTest",
        "DETECTORS",
        "Detector",
        "DetectorInput",
        "Document",
        "DocumentTest",
        "EvaluationError",
        "EvaluationReport",
        "InputError",
        "LlmMiaError",
        "LoadedModel",
        "ModelLoadError",
        "ScoreRecord",
        "Scorer",
        "ScorerConfig",
        "StatsCache",
        "TokenStats",
        "UnknownNameError",
        "Unscorable",
        "auroc",
        "bootstrap_ci",
        "collection_test",
        "document_tests",
        "evaluate",
        "histogram_figure",
        "load_model",
        "make_detector",
        "plot_histograms",
        "plot_roc",
        "read_documents",
        "read_score_file",
        "register",
        "roc_curve",
        "roc_figure",
        "run_bench",
        "run_check",
        "score_documents",
        "to_dataframe",
        "tpr_at_fpr",
        "write_bench",
        "write_demo_texts",
        "write_jsonl",
    ],
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(PUBLIC[package])
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
