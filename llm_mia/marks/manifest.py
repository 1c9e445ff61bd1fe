"""The mark manifest: a secret seed, N candidate marks and which of them are published.

``make_marks`` draws the candidates (:mod:`llm_mia.marks.designs`) and a uniformly random subset
of ``n_published`` of them to publish, both from the seed (independent streams of
``numpy.random.SeedSequence(seed)``). Which marks are published is the random choice the exact
test (:mod:`llm_mia.marks.exact`) permutes over, so it must come from the seed and nothing else.

The manifest is the owner's secret (whoever holds it knows which marks are secret). It is
written with owner-only permissions and never over an existing file. Its **commitment** is the
SHA-256 of its canonical JSON (sorted keys, no spaces) without the commitment itself: publish or
timestamp it when the marks are made, and the manifest can later be shown to predate a model;
:func:`load_manifest` refuses a manifest whose content no longer matches its commitment.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, at_least, require
from ..io import check_output
from ..scoring import ScorerConfig, as_backend
from .designs import DESIGNS, make_texts

FORMAT = "llm-mia-marks/1"
SEED_BITS = 128


@dataclass(frozen=True)
class Mark:
    index: int
    text: str
    published: bool
    tokens: int
    """Its length in tokens of the tokenizer it was made with."""


@dataclass(frozen=True)
class Manifest:
    design: str
    seed: str
    """The secret seed, hex."""
    marks: list[Mark]
    length: int
    """The length asked for, in tokens of ``tokenizer``."""
    tokenizer: dict[str, str]
    """The spec and identity of the tokenizer (and model, for sentences) the marks were made with."""
    created: str
    format: str = FORMAT
    commitment: str = field(default="", compare=False)

    @property
    def published(self) -> list[Mark]:
        return [m for m in self.marks if m.published]

    @property
    def secret(self) -> list[Mark]:
        return [m for m in self.marks if not m.published]

    def content(self) -> dict[str, Any]:
        """Everything but the commitment, as JSON."""
        data = asdict(self)
        data.pop("commitment")
        return data

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`content`."""
        return hashlib.sha256(json.dumps(self.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()


def _streams(seed: str) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators from the seed: the marks', and the published subset's."""
    marks, subset = np.random.SeedSequence(int(seed, 16)).spawn(2)
    return np.random.default_rng(marks), np.random.default_rng(subset)


def make_marks(model: Any, *, design: str = "words", n_marks: int = 512, n_published: int = 256, length: int = 32, seed: str | None = None) -> Manifest:
    """A manifest of ``n_marks`` candidates of ``design`` and ``length`` tokens of the
    tokenizer of ``model`` (a loaded model or a scoring backend), ``n_published`` of them chosen to publish, all from ``seed`` (hex;
    default: 128 fresh random bits from :mod:`secrets`, the only way the secret marks stay secret)."""
    backend = as_backend(model, ScorerConfig())
    require(design in DESIGNS, "design", f"must be one of {', '.join(DESIGNS)}, not {design!r}")
    at_least("n_marks", n_marks, 2)
    at_least("length", length, 2)
    require(
        1 <= n_published < n_marks,
        "n_published",
        f"must lie between 1 and {{n_marks}} - 1 ({n_marks - 1}): the test compares published with secret marks; got {n_published}",
    )
    limit = getattr(backend, "max_positions", None)
    if limit is not None and length + 1 > limit:
        raise InputError(f"marks of {length} tokens do not fit the model's context ({limit} positions)")
    if seed is None:
        seed = f"{secrets.randbits(SEED_BITS):032x}"
    try:
        int(seed, 16)
    except ValueError:
        raise InputError(f"the seed must be a hexadecimal number, not {seed!r}") from None
    mark_rng, subset_rng = _streams(seed)
    texts = make_texts(design, n_marks, length, mark_rng, backend)
    chosen = set(subset_rng.choice(n_marks, n_published, replace=False).tolist())
    counts = [len(ids) for ids in backend.tokenize(texts, special_tokens=False)]
    marks = [Mark(i, t, i in chosen, c) for i, (t, c) in enumerate(zip(texts, counts))]
    manifest = Manifest(
        design=design,
        seed=seed,
        marks=marks,
        length=length,
        tokenizer={"spec": str(backend.spec), "identity": str(backend.tokenizer_identity), "model": str(backend.identity)},
        created=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    )
    return Manifest(**{**manifest.__dict__, "commitment": manifest.digest()})


def save_manifest(manifest: Manifest, path: str | Path) -> Path:
    """Write the manifest to a new file, readable by its owner only (0600); an existing file is
    never replaced (:class:`InputError`)."""
    target = check_output(path, what="mark manifest")
    data = json.dumps({**manifest.content(), "commitment": manifest.commitment}, indent=1, ensure_ascii=False) + "\n"
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{target} already exists: a manifest is never replaced (it holds the only record of the secret marks)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)
    return target


def load_manifest(path: str | Path) -> Manifest:
    """A manifest written by :func:`save_manifest`, checked: its format, its fields, and its
    commitment (a manifest changed since it was made is refused)."""
    p = Path(path).expanduser()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no mark manifest at {p}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{p} is not a mark manifest: not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{p} is not a mark manifest of llm-mia (format {FORMAT})")
    try:
        marks = [Mark(int(m["index"]), str(m["text"]), bool(m["published"]), int(m["tokens"])) for m in data["marks"]]
        manifest = Manifest(
            design=str(data["design"]),
            seed=str(data["seed"]),
            marks=marks,
            length=int(data["length"]),
            tokenizer={str(k): str(v) for k, v in data["tokenizer"].items()},
            created=str(data["created"]),
            format=FORMAT,
            commitment=str(data["commitment"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{p}: a field of the manifest is missing or malformed ({type(exc).__name__}: {exc})") from None
    if manifest.digest() != manifest.commitment:
        raise InputError(
            f"{p} was changed after it was made: its content no longer matches its commitment {manifest.commitment[:16]}...; "
            "a test on it would not be the test the commitment promises"
        )
    if [m.index for m in marks] != list(range(len(marks))) or len({m.text for m in marks}) != len(marks):
        raise InputError(f"{p}: the marks must be numbered 0, 1, ... and distinct")
    if not 1 <= len(manifest.published) < len(marks):
        raise InputError(f"{p}: it must publish at least one mark and keep at least one secret")
    _, subset_rng = _streams(manifest.seed)
    if set(subset_rng.choice(len(marks), len(manifest.published), replace=False).tolist()) != {m.index for m in manifest.published}:
        raise InputError(f"{p}: the published marks are not the ones its seed chooses; the test's p-value would not be exact")
    return manifest
