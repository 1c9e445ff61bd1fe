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
    "core": (0, ("errors", "types", "views", "registry", "strings", "paths", "progress")),
    "io": (1, ("io",)),
    "backends": (2, ("backends",)),
    "scoring": (3, ("scoring",)),
    "detectors": (4, ("detectors",)),
    "runner": (5, ("pipeline", "pools")),
    "evaluation": (6, ("evaluation",)),
    "bench": (7, ("bench",)),
    "check": (7, ("check",)),
    "marks": (7, ("marks",)),
    "cli": (8, ("cli",)),
}
FACADE = "llm_mia"
"""The package's ``__init__``: it gathers the public names of every stage, so it imports from all
of them, and no module imports from it."""


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
    """Strongly connected components of more than one module in the graph of the imports that
    run (Tarjan's algorithm): at import time or inside a function. Imports under
    ``TYPE_CHECKING`` never run; they obey the stage order like the others."""
    return strongly_connected({m: sorted({t for t, type_only, _ in imports(m) if not type_only and t in MODULES and t != m}) for m in MODULES})


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
    assert back_arrows() == set(), "imports against the flow (a stage imports only from earlier ones)"


def test_no_import_cycle() -> None:
    assert cycles() == set(), "modules that import each other in a circle"


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
        "BackendUnavailable",
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
        "RunOptions",
        "ScoreRecord",
        "Scorer",
        "ScorerConfig",
        "ScoringError",
        "SettingError",
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
        "Manifest",
        "MarkTest",
        "insert_marks",
        "load_manifest",
        "make_marks",
        "mark_test",
        "save_manifest",
        "run_check",
        "score_documents",
        "to_dataframe",
        "tpr_at_fpr",
        "write_bench",
        "write_demo_texts",
        "write_jsonl",
    ],
    "llm_mia.io": [
        "DEFAULT_MAX_TOKENS",
        "FrequencyTable",
        "UnreadableText",
        "as_documents",
        "atomic_writer",
        "build_table",
        "check_output",
        "check_output_folder",
        "check_tokenizer",
        "csv_rows",
        "file_name",
        "fingerprint",
        "html_to_text",
        "load_table",
        "mark_duplicates",
        "read_documents",
        "read_score_file",
        "read_text",
        "records_from_json",
        "save_table",
        "strip_gutenberg",
        "texts_of",
        "unused_name",
        "write_jsonl",
        "write_text",
    ],
    "llm_mia.backends": [
        "ALIASES",
        "BOS",
        "CAPABILITY_WORDS",
        "DEFAULT_MODEL",
        "GRADIENT",
        "GENERATE",
        "HFBackend",
        "HTTPBackend",
        "IDLE_TIMEOUT",
        "LOGPROBS",
        "LoadedModel",
        "LoadedTokenizer",
        "MAX_CONNECTIONS",
        "MAX_REQUEST_TOKENS",
        "MOMENTS",
        "MockBackend",
        "NotConformant",
        "PROBE_TOLERANCE",
        "Plausibility",
        "REQUEST_TIMEOUT",
        "RequestError",
        "SERVER_WAIT",
        "SPEC_KINDS",
        "ScoringBackend",
        "ScoringService",
        "ServerError",
        "ServerWaitWarning",
        "SpecKind",
        "TOP1",
        "TOPK",
        "available_bytes",
        "cgroup_files",
        "check_request_timeout",
        "check_server_wait",
        "cpu_available_bytes",
        "describe_aliases",
        "get_model",
        "hf_progress",
        "hub_reachable",
        "is_url",
        "load_model",
        "load_tokenizer",
        "locate_smollm2",
        "make_server",
        "plausibility",
        "resolve_spec",
        "secret_from_env",
        "tokenizer_identity",
        "with_revision",
    ],
    "llm_mia.scoring": [
        "DEFAULT_CONTROL_PREFIXES",
        "DEFAULT_PREFIX",
        "DEFAULT_SUFFIX",
        "Scorer",
        "ScorerConfig",
        "ScoringPlan",
        "PriorControl",
        "StatsCache",
        "WindowSettings",
        "WindowStats",
        "first_tokens",
        "as_backend",
        "prefix_chars",
        "prior_controls",
        "samples_needed",
        "stats_key",
        "tokenize_prefix",
        "unrelated_windows",
        "window_config",
        "window_stats",
        "with_topk",
    ],
    "llm_mia.detectors": [
        "DEFAULT_K",
        "DETECTORS",
        "Detector",
        "DetectorInput",
        "DetectorSkip",
        "GROUPS",
        "REFERENCE",
        "REFERENCE_NEED",
        "SEPARATOR",
        "TARGET",
        "TARGET_LOWER",
        "View",
        "above_running_mean",
        "dc_pdd_score",
        "check_finite",
        "default_detector_names",
        "detector_listing",
        "first_occurrences",
        "lempel_ziv_phrases",
        "make_detector",
        "mean_nll",
        "parameter_fields",
        "parameter_problem",
        "parse_detector",
        "quantised",
        "register",
        "uses_reference_model",
        "window_means",
    ],
    "llm_mia.evaluation": [
        "DEFAULT_MAX_REPEAT",
        "MEMORIZATION_THRESHOLDS",
        "REPEAT_NGRAM",
        "prefix_repeats",
        "MemorizationEvidence",
        "Passage",
        "ThresholdResult",
        "WindowCount",
        "memorization_evidence",
        "BaselineResult",
        "EvaluationReport",
        "FPR_BUDGETS",
        "MIN_PER_CLASS",
        "NA",
        "N_BOOTSTRAP",
        "TprAtFpr",
        "auroc",
        "auroc_stat",
        "bootstrap_ci",
        "detector_cells",
        "evaluate",
        "features",
        "fpr_budget_too_small",
        "histogram_figure",
        "histogram_svg",
        "markdown_table",
        "metric_headers",
        "model_free_auroc",
        "p_value",
        "plot_histograms",
        "plot_roc",
        "roc_curve",
        "roc_figure",
        "text_table",
        "to_dataframe",
        "too_few_notes",
        "tpr_at_fpr",
        "tpr_cell",
        "tpr_stat",
        "with_ci",
    ],
    "llm_mia.bench": [
        "BenchResult",
        "ControlledConfig",
        "OpenedSuite",
        "SMALL",
        "SUITES",
        "Split",
        "Suite",
        "assign",
        "excerpts",
        "limit_split",
        "load_suite",
        "open_suite",
        "resolve_data_dir",
        "run_bench",
        "split_memorization",
        "train_on_members",
        "write_bench",
    ],
    "llm_mia.marks": [
        "DEFAULT_DRAWS",
        "DESIGNS",
        "ENUMERATE",
        "FORMAT",
        "Manifest",
        "Mark",
        "MarkScore",
        "MarkTest",
        "insert_marks",
        "load_manifest",
        "make_marks",
        "mark_html",
        "mark_json",
        "mark_summary",
        "mark_test",
        "missing_marks",
        "permutation_p",
        "published_texts",
        "save_manifest",
        "vocabulary_words",
    ],
    "llm_mia.check": [
        "MemorizationEvidence",
        "memorization_evidence",
        "CHECK_DETECTORS",
        "CheckResult",
        "CheckSettings",
        "CollectionTest",
        "DEFAULT_PERMUTATIONS",
        "DEFAULT_SPLITS",
        "DEMO_EXCERPT_WORDS",
        "DocumentTest",
        "MIN_PER_SIDE",
        "MODES",
        "REFERENCE_SNAPSHOT",
        "SHADES",
        "check_scores",
        "collection_test",
        "cut_all",
        "cut_excerpts",
        "document_tests",
        "find_overlaps",
        "holm",
        "looks_like_code",
        "propensity_strata",
        "read_texts",
        "run_check",
        "summary",
        "to_html",
        "to_json",
        "token_pieces",
        "unlike",
        "write_demo_texts",
    ],
    "llm_mia.cli": [
        "FLAGS",
        "build_parser",
        "main",
        "run_options",
    ],
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_public_names(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(PUBLIC[package])
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


STAGE_PACKAGES = {p for p in PUBLIC if p != FACADE}


def _entrance_problems(module: str, target: str, names: list[str]) -> list[str]:
    """What is wrong with ``from target import names`` in ``module`` (a module of another stage,
    or a script or test: ``module`` is then ""): it must name the facade, a stage package or a
    top-level module, and only names that the package's ``__all__`` promises."""
    if target != FACADE and target not in STAGE_PACKAGES and target.count(".") > 1:
        return [f"{module or 'a script'} imports {target}: import from its stage package {'.'.join(target.split('.')[:2])}"]
    problems = [f"{module or 'a script'} imports the private name {target}.{n}" for n in names if n.startswith("_") and not n.startswith("__")]
    if target in PUBLIC:
        problems += [f"{module or 'a script'} imports {target}.{n}, which its __all__ does not name" for n in names if n not in PUBLIC[target]]
    return problems


def test_stages_meet_at_their_packages() -> None:
    """Across stages, a module imports from the other stage's package and only what its
    ``__all__`` names (within a stage, modules import each other directly)."""
    problems = []
    for m in MODULES:
        for t, _, names in imports(m):
            if stage_of(m) not in ("facade", stage_of(t)) and names:
                problems += _entrance_problems(m, t, names)
    assert problems == []


def _script_sources() -> list[tuple[str, str]]:
    import json

    out = [(str(p.relative_to(ROOT)), p.read_text()) for d in ("tests", "benchmarks", "notebooks", "docs") for p in sorted((ROOT / d).glob("*.py"))]
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        out.append((str(nb.relative_to(ROOT)), "\n".join(line for cell in code for line in cell.splitlines() if not line.startswith(("%", "!")))))
    return out


def test_scripts_and_tests_use_the_public_names() -> None:
    """Benchmarks, notebooks and tests import from ``llm_mia``, a stage package or a top-level
    module, only names its ``__all__`` promises, never a private one (``import llm_mia.x.y as m``
    stays allowed: a monkeypatch must reach the module where a name lives, not a re-export), and
    read no private attribute of what they import."""
    problems = []
    for name, source in _script_sources():
        tree = ast.parse(source)
        bound: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == FACADE and not node.level:
                problems += [f"{name}: {p}" for p in _entrance_problems("", node.module or "", [a.name for a in node.names])]
                bound.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.Import):
                bound.update(a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] == FACADE)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not node.attr.startswith("_repr_")
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
            ):
                problems.append(f"{name}:{node.lineno}: {node.value.id}.{node.attr} is private")
    assert problems == []


def test_the_top_level_holds_only_the_core_and_the_runner() -> None:
    """Every other stage is a folder, so the package's top level shows the core and the runner."""
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert {stage_of(module_name(PACKAGE / f"{m}.py")) for m in top} <= {"facade", "core", "runner"}
    assert len(top) <= 10, top
