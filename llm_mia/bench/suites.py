"""Benchmark suites: named member / non-member splits read from a data directory.

The data directory is ``--data-dir``, else ``$LLM_MIA_DATA``; its layout is that of the
workspace's ``shared/data`` (see each suite's ``files``). A split that is not there is loaded
from the Hugging Face hub through ``datasets`` when the suite has a plain (script-free) hub
copy and the hub can be reached; otherwise a message says where it looked.

Each suite says for which models its labels are valid: on any other model a split measures
something else (often only a shift in dates or topics), and the benchmark table says so.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends import hub_reachable
from ..errors import InputError
from ..io import csv_rows, file_name, fingerprint, read_documents
from ..registry import Registry
from ..types import Document

DATA_ENV = "LLM_MIA_DATA"


@dataclass(frozen=True)
class Split:
    """One evaluated unit: documents with labels (1 = member), and an optional grouping
    (``groups[i]`` names the book a passage belongs to) for document-set level scores."""

    suite: str
    name: str
    documents: list[Document]
    groups: list[str] | None = None

    @property
    def fingerprint(self) -> str:
        """sha256 over ids, labels and texts: changes whenever the data does."""
        return fingerprint(self.documents)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    valid_for: str  # plain words, shown in tables
    valid_patterns: tuple[str, ...]  # lowercase substrings of model names the labels hold for
    files: str  # where in the data directory
    load: Callable[[Path | None], list[Split]] = field(repr=False)
    hub: str | None = None
    opener: Callable[..., OpenedSuite] | None = field(default=None, repr=False)
    """A suite that builds its own models (the controlled split): called as
    ``opener(suite, root, model=..., options=..., progress=..., load=...)`` instead of ``load``
    (``load``: the run's ``device`` and ``dtype`` where given, for the models it scores with)."""

    def labels_valid_for(self, model_name: str) -> bool:
        name = model_name.lower()
        return any(p in name for p in self.valid_patterns)


@dataclass(frozen=True)
class OpenedSuite:
    """A suite ready to run: its splits and, for a suite that builds its own models, the model
    under test, the reference model, the token limit its labels assume and its settings
    (recorded in the results' provenance)."""

    suite: Suite
    splits: list[Split]
    model: Any = None  # None: the user's model
    reference_model: Any = None
    max_tokens: int | None = None
    provenance: dict[str, Any] = field(default_factory=dict)


SUITES: Registry[Suite] = Registry("suite")


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    """``data_dir``, else ``$LLM_MIA_DATA``, else None (hub only)."""
    value = data_dir or os.environ.get(DATA_ENV)
    return Path(value).expanduser() if value else None


def find_data(path: Path | None, rel: str, suite: str, hub: str | None) -> Path:
    """The local file, or a clear error naming where we looked and the alternatives."""
    if path is not None and (path / rel).exists():
        return path / rel
    where = f"{path / rel}" if path is not None else f"no data directory (set --data-dir or ${DATA_ENV})"
    alt = f"; its hub copy {hub!r} needs the Hugging Face hub, which cannot be reached" if hub else ""
    raise InputError(f"suite {suite!r}: data not found at {where}{alt}")


def _hub_rows(dataset: str, split: str) -> list[dict]:
    """Rows of a script-free hub dataset, or an InputError when the hub cannot be reached."""
    if not hub_reachable():
        raise InputError(f"dataset {dataset!r} is not in the data directory and the Hugging Face hub cannot be reached")
    from datasets import load_dataset

    return list(load_dataset(dataset, split=split))


# -- loaders -------------------------------------------------------------------------------

WIKIMIA_LENGTHS = (32, 64, 128, 256)


def _load_wikimia(root: Path | None) -> list[Split]:
    splits = []
    for n in WIKIMIA_LENGTHS:
        rel = f"wikimia/{n}.jsonl"
        if root is not None and (root / rel).exists():
            docs = read_documents(root / rel)
        else:
            try:
                rows = _hub_rows("swj0419/WikiMIA", f"WikiMIA_length{n}")
            except InputError:
                find_data(root, rel, "wikimia", "swj0419/WikiMIA")
                raise
            docs = [Document(str(i), r["input"], int(r["label"])) for i, r in enumerate(rows)]
        splits.append(Split("wikimia", f"wikimia-{n}", docs))
    return splits


MIMIR_DOMAINS = ("wikipedia", "github", "pile_cc", "pubmed", "arxiv", "dm", "hackernews")


def _load_mimir(root: Path | None) -> list[Split]:
    splits = []
    for domain in MIMIR_DOMAINS:
        members = read_documents(find_data(root, f"mimir_ngram_7_0.2/members/{domain}.jsonl", "mimir-7gram", None))
        nonmembers = read_documents(find_data(root, f"mimir_ngram_7_0.2/non-members/{domain}.jsonl", "mimir-7gram", None))
        n = len(nonmembers)  # balanced: the first n members
        docs = [Document(f"m{i}", d.text, 1, d.error) for i, d in enumerate(members[:n])]
        docs += [Document(f"n{i}", d.text, 0, d.error) for i, d in enumerate(nonmembers)]
        splits.append(Split("mimir-7gram", f"mimir-{domain}", docs))
    return splits


def _load_arxivtection(root: Path | None) -> list[Split]:
    path = find_data(root, "arxivtection/arXivTection.csv", "arxivtection", None)
    docs = read_documents(path, text_field="Example_A", label_field="Label")
    groups = [row["ID"] for row in _csv_rows(path)]
    return [Split("arxivtection", "arxivtection", docs, groups)]


def _load_booktection(root: Path | None) -> list[Split]:
    path = find_data(root, "booktection128/passages.csv", "booktection", None)
    rows = _csv_rows(path)
    docs = read_documents(path)
    docs = [Document(f"{r['book']}#{r['passage_idx']}", d.text, d.label, d.error) for r, d in zip(rows, docs)]
    return [Split("booktection", "booktection", docs, [r["book"] for r in rows])]


def _load_gutenberg(root: Path | None) -> list[Split]:
    return [Split("gutenberg", "gutenberg", read_documents(find_data(root, "gutenberg_blind", "gutenberg", None)))]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a suite's CSV file as read by :func:`read_documents` (same order and count)."""
    rows = [row for _, row in csv_rows(path)]
    if not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{path}: a row cannot be read ({next(r for r in rows if isinstance(r, str))})")
    return rows  # type: ignore[return-value]


_PILE = ("pythia", "gpt-neo", "gpt-j", "gptj", "neox")
SUITES.add(
    "wikimia",
    Suite(
        "wikimia",
        "WikiMIA (Shi et al. 2024): Wikipedia event texts cut to 32/64/128/256 words; members from before 2017, non-members from 2023",
        "models trained 2017 to early 2023: Pythia, GPT-Neo/NeoX, OPT, LLaMA-1/2",
        _PILE + ("opt-", "llama-1", "llama-2", "llama2"),
        "wikimia/{32,64,128,256}.jsonl",
        _load_wikimia,
        "swj0419/WikiMIA",
    ),
)
SUITES.add(
    "mimir-7gram",
    Suite(
        "mimir-7gram",
        "MIMIR (Duan et al. 2024), Pile train vs Pile test, 7-gram overlap < 20%, 7 domains, balanced",
        "models trained on the Pile: Pythia, GPT-Neo, GPT-J, GPT-NeoX-20B",
        _PILE,
        "mimir_ngram_7_0.2/{members,non-members}/<domain>.jsonl",
        _load_mimir,
    ),
)
SUITES.add(
    "arxivtection",
    Suite(
        "arxivtection",
        "arXivTection (Duarte et al. 2024): ~128-token passages of 25 arXiv papers before 2022 and 25 from 2023",
        "models with a training cutoff in 2022 to 2023",
        ("llama-2", "llama2", "gpt-3.5", "mistral-7b-v0.1"),
        "arxivtection/arXivTection.csv",
        _load_arxivtection,
    ),
)
SUITES.add(
    "booktection",
    Suite(
        "booktection",
        "BookTection (Duarte et al. 2024): ~128-token passages of 105 books before 2022 (presumed members) and 60 from 2023",
        "models with a training cutoff in 2022 to 2023 (presumed, not confirmed)",
        ("llama-2", "llama2", "gpt-3.5", "mistral-7b-v0.1"),
        "booktection128/passages.csv",
        _load_booktection,
    ),
)
SUITES.add(
    "gutenberg",
    Suite(
        "gutenberg",
        "Project Gutenberg book openings, 120 to 150 words (Das, Zhang and Tramer 2024)",
        "presumed members for models trained on PG-19 / RedPajama books (origin not fully documented)",
        ("redpajama", "open_llama", "openllama"),
        "gutenberg_blind/{member,nonmember}/<i>.txt",
        _load_gutenberg,
    ),
)


def open_suite(
    name_or_path: str,
    data_dir: str | Path | None = None,
    *,
    model: Any = None,
    options: Any = None,
    progress: bool = False,
    load: dict[str, Any] | None = None,
) -> OpenedSuite:
    """:func:`load_suite`, or for a suite that builds its own models (the controlled split)
    its ``opener`` with ``model`` (the base model), ``options`` (its settings) and ``load``
    (``device`` and ``dtype`` of the models it scores with, where given)."""
    if name_or_path in SUITES and SUITES.get(name_or_path).opener is not None:
        suite = SUITES.get(name_or_path)
        assert suite.opener is not None
        given = {k: v for k, v in (load or {}).items() if v is not None}
        return suite.opener(suite, resolve_data_dir(data_dir), model=model, options=options, progress=progress, load=given)
    return OpenedSuite(*load_suite(name_or_path, data_dir))


def load_suite(name_or_path: str, data_dir: str | Path | None = None) -> tuple[Suite, list[Split]]:
    """A registered suite, a user file or folder with texts and labels, or a JSON suite config.

    A config file (``.json``) holds ``{"name": ..., "path": ..., "text_field": ...,
    "label_field": ..., "valid_for": "..."}``; ``path`` is relative to the config file.
    A split's name names its files in a results folder: one that cannot be a plain file
    name raises :class:`InputError`.
    """
    root = resolve_data_dir(data_dir)
    if name_or_path in SUITES:
        suite = SUITES.get(name_or_path)
        return suite, suite.load(root)
    path = Path(name_or_path).expanduser()
    if path.suffix == ".json" and path.is_file():
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError, JSONDecodeError
            raise InputError(f"suite config {path.name} is not valid JSON ({type(exc).__name__})") from None
        keys = ("name", "path", "text_field", "label_field", "id_field", "valid_for")
        if not isinstance(cfg, dict) or not isinstance(cfg.get("path"), str) or any(not isinstance(cfg.get(k) or "", str) for k in keys):
            raise InputError(f"suite config {path.name}: needs a JSON object with a 'path', and strings (or null) for {', '.join(keys)}")
        target = (path.parent / cfg["path"]).resolve()
        name = file_name(cfg.get("name") or _stem_name(path), "split name")
        docs = read_documents(target, text_field=cfg.get("text_field"), label_field=cfg.get("label_field"), id_field=cfg.get("id_field"))
        return _user_suite(name, cfg.get("valid_for") or "unknown", str(target)), [Split(name, name, docs)]
    if path.exists():
        docs = read_documents(path)
        name = _stem_name(path)
        return _user_suite(name, "unknown (user data)", str(path)), [Split(name, name, docs)]
    raise InputError(f"{name_or_path!r} is neither a suite nor an existing file or folder. {SUITES.suggest(name_or_path)}")


def _stem_name(path: Path) -> str:
    """A split name from a file name, usable as a file name itself."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", path.stem).lstrip("._") or "data"


def _user_suite(name: str, valid_for: str, files: str) -> Suite:
    return Suite(name, f"user data: {files}", valid_for, (), files, lambda _root: [])
