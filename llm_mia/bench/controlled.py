"""The controlled split: ground truth for a model we can run.

1. Excerpts of real book text (the Project Gutenberg openings in ``gutenberg_blind``; their
   own labels are ignored) are shuffled with a seed and dealt i.i.d. into members and
   non-members; the members are dealt into exposure groups (seen once, seen k times, ...).
2. A copy of the base model is trained further on the members (each member repeated as
   often as its exposure says, shuffled, one pass, AdamW) and saved as a local model folder.
3. Both sets are scored with the trained model as target and the untouched base model as
   reference. Because assignment is random, the model-free baseline must sit near 0.5; if it
   does not, the split is not i.i.d. and that is a bug.

The trained model is kept under ``cache_home()/controlled/<settings hash>`` and reused by a
rerun with the same settings (an interrupted run resumes without retraining).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..backends import DEFAULT_MODEL, LoadedModel, hf_progress, load_model
from ..errors import InputError, at_least, require
from ..paths import cache_home
from ..types import Document
from .suites import SUITES, OpenedSuite, Split, Suite, find_data, resolve_data_dir


@dataclass(frozen=True)
class ControlledConfig:
    """Sizes and training settings. The defaults finish in about 20 minutes on 2 CPU cores."""

    base_model: str = "smollm2-135m"
    n_members_per_exposure: int = 50
    n_nonmembers: int = 100
    exposures: tuple[int, ...] = (1, 4)
    learning_rate: float = 1e-4
    batch_size: int = 8
    max_tokens: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        at_least("n_members_per_exposure", self.n_members_per_exposure, 1)
        at_least("n_nonmembers", self.n_nonmembers, 1)
        require(len(self.exposures) > 0, "exposures", "must name at least one exposure")
        for e in self.exposures:
            at_least("exposures", e, 1)
        require(len(set(self.exposures)) == len(self.exposures), "exposures", f"must not repeat a value ({self.exposures})")
        require(self.learning_rate > 0, "learning_rate", f"must be positive, not {self.learning_rate}")
        at_least("batch_size", self.batch_size, 1)
        at_least("max_tokens", self.max_tokens, 2)
        at_least("seed", self.seed, 0)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:20]


SMALL = ControlledConfig(n_members_per_exposure=8, n_nonmembers=16, max_tokens=64)
"""A setting for CI: a few minutes."""


def excerpts(data_dir: str | Path | None) -> list[str]:
    """The pool of excerpts, in a fixed order (file names sorted)."""
    root = find_data(resolve_data_dir(data_dir), "gutenberg_blind", "controlled", None)
    texts = [p.read_text(encoding="utf-8").strip() for p in sorted(root.rglob("*.txt"), key=lambda p: p.as_posix())]
    return [t for t in texts if t]


def assign(pool: list[str], config: ControlledConfig) -> tuple[dict[int, list[str]], list[str]]:
    """Seeded i.i.d. assignment: {exposure: member texts}, non-member texts."""
    need = config.n_members_per_exposure * len(config.exposures) + config.n_nonmembers
    if len(pool) < need:
        raise InputError(f"the controlled split needs {need} excerpts; the pool has {len(pool)}")
    order = list(pool)
    random.Random(config.seed).shuffle(order)
    members, k = {}, config.n_members_per_exposure
    for g, e in enumerate(config.exposures):
        members[e] = order[g * k : (g + 1) * k]
    start = k * len(config.exposures)
    return members, order[start : start + config.n_nonmembers]


def train_on_members(lm: LoadedModel, members: dict[int, list[str]], config: ControlledConfig, *, progress: bool = False) -> None:
    """One shuffled pass over every member repeated ``exposure`` times (AdamW, in place)."""
    import torch

    from ..progress import Progress

    corpus = [t for e, texts in members.items() for t in texts for _ in range(e)]
    random.Random(config.seed + 1).shuffle(corpus)
    torch.manual_seed(config.seed)
    model, tok = lm.model, lm.tokenizer
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    steps = range(0, len(corpus), config.batch_size)
    bar = Progress(len(steps), "training on members", unit="step", enabled=progress)
    for b in steps:
        ids = [tok(t)["input_ids"][: config.max_tokens] for t in corpus[b : b + config.batch_size]]
        width = max(map(len, ids))
        x = torch.full((len(ids), width), pad, dtype=torch.long)
        mask = torch.zeros_like(x)
        for r, row in enumerate(ids):
            x[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        labels = x.masked_fill(mask == 0, -100)
        loss = model(input_ids=x.to(model.device), attention_mask=mask.to(model.device), labels=labels.to(model.device)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        bar.update(1)
    bar.close()
    model.eval()


def prepare(
    config: ControlledConfig, data_dir: str | Path | None = None, *, progress: bool = False, load: dict[str, Any] | None = None
) -> tuple[LoadedModel, LoadedModel, list[Split]]:
    """(trained target, untouched reference, splits): one split per exposure, members of that
    exposure against all non-members. Training runs on the CPU in float32; the two models
    are then loaded with ``load`` (``device``, ``dtype``; default the CPU, float32)."""
    scoring = {"device": "cpu", **(load or {})}
    members, nonmembers = assign(excerpts(data_dir), config)
    folder = cache_home() / "controlled" / config.key()
    if not (folder / "complete.json").exists():
        lm = load_model(config.base_model, device="cpu", progress=progress)
        train_on_members(lm, members, config, progress=progress)
        tmp = folder.with_name(folder.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        with hf_progress(progress):  # transformers' "Writing model shards" bar
            lm.model.save_pretrained(tmp)
            lm.tokenizer.save_pretrained(tmp)
        (tmp / "complete.json").write_text(json.dumps(asdict(config)))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    target = load_model(str(folder), progress=progress, **scoring)
    target.spec = f"{config.base_model}+controlled-{config.key()}"
    reference = load_model(config.base_model, progress=progress, **scoring)
    non = [Document(f"n{i}", t, 0) for i, t in enumerate(nonmembers)]
    splits = [Split("controlled", f"controlled-x{e}", [Document(f"x{e}-m{i}", t, 1) for i, t in enumerate(texts)] + non) for e, texts in members.items()]
    return target, reference, splits


def open_suite(
    suite: Suite,
    root: Path | None,
    *,
    model: object = None,
    options: ControlledConfig | None = None,
    progress: bool = False,
    load: dict[str, Any] | None = None,
) -> OpenedSuite:
    """The controlled suite ready to run: :func:`prepare` with ``options`` (default: the
    default settings on ``model`` as base model, when it is a spec). The scorer keeps the
    ``max_tokens`` the copy was trained on."""
    cfg = options or ControlledConfig(base_model=model if isinstance(model, str) else DEFAULT_MODEL)
    target, reference, splits = prepare(cfg, root, progress=progress, load=load)
    return OpenedSuite(suite, splits, target, reference, cfg.max_tokens, {"controlled": asdict(cfg)})


def _controlled_only(root: Path | None) -> list[Split]:
    raise InputError("the controlled split trains a model: run it with llm-mia bench controlled (or run_bench)")


SUITES.add(  # registered here, as detectors are: the suite list names no module
    "controlled",
    Suite(
        "controlled",
        "Book excerpts (gutenberg_blind) dealt i.i.d. into members and non-members; a copy of the base model "
        "is trained on the members (seen once or 4 times) and is the target, the base model the reference",
        "the trained copy (ground truth by construction)",
        ("+controlled",),
        "gutenberg_blind/ (labels ignored)",
        _controlled_only,
        opener=open_suite,
    ),
)
