"""The mark manifest: a secret seed, N candidate marks and which of them are published.

``make_marks`` draws the candidates (:mod:`llm_mia.marks.designs`) and a uniformly random subset
of ``n_published`` of them to publish, both from the seed (independent streams of
``numpy.random.SeedSequence(seed)``). Which marks are published is the random choice the exact
test (:mod:`llm_mia.marks.exact`) permutes over, so it must come from the seed and nothing else.

The manifest is the owner's secret (whoever holds it knows which marks are secret). It is
written with owner-only permissions and never over an existing file. Its **commitment** is the
SHA-256 of its canonical JSON (sorted keys, no spaces) without the commitment itself: publish or
timestamp it when the marks are made, and the manifest can later be shown to predate a model;
:func:`load_manifest` refuses a manifest whose content no longer matches its commitment, or the
commitment the owner published (``commitment=``: a manifest rewritten with a new commitment
matches only its own), and :func:`regenerated` rebuilds ``words`` and ``chars`` marks from the
seed, so that a secret mark swapped for a less natural one is found even then.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tempfile
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
HEX = re.compile(r"[0-9a-fA-F]+")


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
    if not HEX.fullmatch(seed):
        raise InputError(f"the seed must be a hexadecimal number (digits and a-f), not {seed!r}")
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
    never replaced (:class:`InputError`). Written whole to a temporary file first and linked
    into place, so that a failed write leaves no truncated manifest behind."""
    target = check_output(path, what="mark manifest")
    data = json.dumps({**manifest.content(), "commitment": manifest.commitment}, indent=1, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.link(tmp, target)
    except FileExistsError:
        raise InputError(f"{target} already exists: a manifest is never replaced (it holds the only record of the secret marks)") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def load_manifest(path: str | Path, commitment: str | None = None) -> Manifest:
    """A manifest written by :func:`save_manifest`, checked: its format, its fields, and its
    commitment (a manifest changed since it was made is refused); with ``commitment`` (the hex
    digest the owner published when the marks were made), that it is the same manifest."""
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
    if commitment is not None and commitment.strip().lower() != manifest.commitment.lower():
        raise InputError(
            f"{p} is not the manifest whose commitment was published: its commitment is {manifest.commitment[:16]}..., "
            f"not {commitment.strip()[:16]}...; a test on it would not be the test the commitment promises"
        )
    if manifest.digest() != manifest.commitment:
        raise InputError(
            f"{p} was changed after it was made: its content no longer matches its commitment {manifest.commitment[:16]}...; "
            "a test on it would not be the test the commitment promises"
        )
    if not HEX.fullmatch(manifest.seed):
        raise InputError(f"{p}: its seed is not a hexadecimal number")
    if [m.index for m in marks] != list(range(len(marks))) or len({m.text for m in marks}) != len(marks):
        raise InputError(f"{p}: the marks must be numbered 0, 1, ... and distinct")
    if not 1 <= len(manifest.published) < len(marks):
        raise InputError(f"{p}: it must publish at least one mark and keep at least one secret")
    _, subset_rng = _streams(manifest.seed)
    if set(subset_rng.choice(len(marks), len(manifest.published), replace=False).tolist()) != {m.index for m in manifest.published}:
        raise InputError(f"{p}: the published marks are not the ones its seed chooses; the test's p-value would not be exact")
    return manifest


def regenerated(manifest: Manifest, backend: Any) -> list[int] | None:
    """Indices of the marks that the seed does not give again: the ``words`` and ``chars``
    designs are rebuilt from the seed with ``backend``'s tokenizer (the first ``max index + 1``
    candidates, drawn in order, so a part of a manifest is checked too). None where that cannot
    be done: the ``sentences`` design (its marks depend on the model's sampling) or another
    tokenizer than the one the marks were made with."""
    if manifest.design == "sentences" or str(backend.tokenizer_identity) != manifest.tokenizer.get("identity"):
        return None
    mark_rng, _ = _streams(manifest.seed)
    texts = make_texts(manifest.design, max(m.index for m in manifest.marks) + 1, manifest.length, mark_rng, backend)
    return [m.index for m in manifest.marks if texts[m.index] != m.text]
