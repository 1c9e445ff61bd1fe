"""The scorer: texts -> per-token statistics, in one batched forward pass per text and view.

This is the generic part: tokenizing (only as far as ``max_tokens`` needs), segmenting
(truncation or sliding windows, a context before the text), batching (longest first), the
statistics cache, deduplication of identical texts, splitting a failing batch until only the
text the model fails on is marked unscorable, and progress. What runs the model is a
scoring backend (:mod:`llm_mia.backends`): a loaded Hugging Face model, which computes every
statistic exactly (:mod:`llm_mia.backends.hf`), or any object with the backend interface.

Long texts: ``max_tokens`` truncates (the record says so); with ``stride`` a text of any
length is cut into windows of ``max_tokens`` tokens starting every ``stride`` tokens, and
every token after the first is scored exactly once, with at least ``max_tokens - stride``
tokens of context (all tokens before it in the first window).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..backends import GRADIENT, TOPK, HFBackend, LoadedModel, ScoringBackend
from ..errors import BackendUnavailable, InputError, ScoringError, SettingError, UntrustedServer, at_least, require
from ..progress import Progress
from ..strings import describe_bytes, surrogate_problem
from ..types import Reason, TokenStats, Unscorable
from .cache import StatsCache, stats_key

STATS_VERSION = "stats-v2"  # v2: the top-1 log-probability of each position is kept too
DEFAULT_MAX_TOKENS = 1024
MAX_FAILURES_IN_A_ROW = 5
"""Texts in a row on which the model fails alone before the run stops (a broken device)."""


@dataclass(frozen=True)
class ScorerConfig:
    """Settings that change the statistics (all but ``batch_size`` and ``padding_side`` key the cache).

    ``max_tokens``: tokens kept per text (or window length with ``stride``); None = 1024 or
    the model's context length if that is shorter.
    ``stride``: sliding-window step, ``1 <= stride < max_tokens``; None = truncate.
    ``batch_size``: sequences per forward pass (sorted by length, longest first).
    ``padding_side``: "right" or "left"; scores do not depend on it.
    ``chunk_elements``: bound on the logits held at once (rows x ``vocab_tile``).
    ``vocab_tile``: vocabulary entries whose logits are computed together (4096: the fastest
    tile measured on a CPU with Gemma's 262,144-entry head; see ``benchmarks/README.md``).
    ``window_bos``: with ``stride``, every window after the first starts with the tokenizer's
    BOS, as a text of its own does (where the tokenizer adds one; the model reads one more
    token per window, none of the text): what the extraction windows use. Gemma, for one,
    predicts far worse from a sequence without its BOS (``benchmarks/MEMORIZATION.md``).
    """

    max_tokens: int | None = None
    stride: int | None = None
    batch_size: int = 8
    padding_side: str = "right"
    chunk_elements: int = 1 << 24
    vocab_tile: int = 4096
    window_bos: bool = False

    def __post_init__(self) -> None:
        if self.max_tokens is not None:
            at_least("max_tokens", self.max_tokens, 2)  # one context token and one scored token
        if self.stride is not None:
            at_least("stride", self.stride, 1)
        at_least("batch_size", self.batch_size, 1)
        require(self.padding_side in ("right", "left"), "padding_side", f"must be 'right' or 'left', not {self.padding_side!r}")
        at_least("chunk_elements", self.chunk_elements, 1)
        at_least("vocab_tile", self.vocab_tile, 1)


def as_backend(model: LoadedModel | ScoringBackend, config: ScorerConfig) -> ScoringBackend:
    """``model`` itself when it is a backend; a loaded Hugging Face model behind
    :class:`~llm_mia.backends.HFBackend` with ``config``'s kernel settings."""
    if isinstance(model, LoadedModel):
        return HFBackend(model, padding_side=config.padding_side, chunk_elements=config.chunk_elements, vocab_tile=config.vocab_tile)
    return model


@dataclass
class ScoringPlan:
    """What :meth:`Scorer.run` will compute for a list of texts (made by :meth:`Scorer.plan`):
    the results known already (cached, or unscorable: ``results``), and the sequences left to
    run through the model. ``tokens`` is the work left, for estimates and progress."""

    results: list[TokenStats | Unscorable | None]
    keys: list[str]
    segments: list[_Segment]
    full_ids: dict[int, list[int]]
    truncated: dict[int, bool]
    copies: dict[int, int]  # a text identical to an earlier one: its index -> the earlier one's
    gradient: bool = False

    @property
    def tokens(self) -> int:
        """Token positions the model will process (0: everything from the cache)."""
        return sum(len(seg.ids) for seg in self.segments)


@dataclass(frozen=True)
class _Segment:
    """One sequence fed to the model: ``ids`` of text ``doc``; positions >= ``score_from`` of
    the segment are scored, the first of them being position ``abs_start`` of the whole text."""

    doc: int
    ids: list[int]
    score_from: int
    abs_start: int


class Scorer:
    """Computes :class:`TokenStats` for texts with one model, using an optional on-disk cache."""

    forward_passes_total = 0  # over every Scorer of this process (provenance: 0 = all from the cache)

    def __init__(
        self,
        lm: LoadedModel | ScoringBackend,
        config: ScorerConfig | None = None,
        *,
        cache: StatsCache | None = None,
        progress: bool = False,
    ) -> None:
        self.config = config or ScorerConfig()
        self.backend = as_backend(lm, self.config)
        limit = self.backend.max_positions
        requested = self.config.max_tokens
        if requested is not None and limit is not None:
            require(requested <= limit, "max_tokens", f"{requested} exceeds the model's context length ({limit} positions)")
        self.max_tokens: int = requested or min(DEFAULT_MAX_TOKENS, limit or DEFAULT_MAX_TOKENS)
        if self.config.window_bos and limit is not None:
            require(self.max_tokens < limit, "max_tokens", f"must leave room for each window's BOS (window_bos): at most {limit - 1}, not {self.max_tokens}")
        stride = self.config.stride
        if stride is not None:
            require(stride < self.max_tokens, "stride", f"must be smaller than {{max_tokens}} ({self.max_tokens}); got {stride}")
        self.cache = cache
        self.progress = progress
        self.forward_passes = 0  # batches run through the model (a cache hit runs none)
        self._failures_in_a_row = 0

    # -- public -----------------------------------------------------------------------------

    def settings(self) -> dict[str, object]:
        """Everything besides the text that determines the statistics (keys the cache)."""
        restart = {"window_bos": True} if self._restarts_with_bos() else {}  # only where it changes the statistics: other keys stay as they were
        return {"version": STATS_VERSION, **self.backend.cache_identity(), "max_tokens": self.max_tokens, "stride": self.config.stride, **restart}

    def bos_id(self) -> int | None:
        """The token the tokenizer puts before every text (its BOS), or None where it adds none."""
        if not hasattr(self, "_bos"):
            with_bos, without = self.tokenize(["a"])[0], self.tokenize(["a"], special_tokens=False)[0]
            self._bos = with_bos[0] if len(with_bos) == len(without) + 1 and with_bos[1:] == without else None
        return self._bos

    def with_bos(self, ids: list[int]) -> tuple[list[int], int]:
        """``ids`` as a sequence of its own: with the BOS first where the tokenizer adds one and
        ``ids`` lacks it; and how many tokens were put before them (0 or 1)."""
        bos = self.bos_id()
        if bos is None or (ids and ids[0] == bos):
            return list(ids), 0
        return [bos, *ids], 1

    def _restarts_with_bos(self) -> bool:
        return self.config.window_bos and self.config.stride is not None and self.bos_id() is not None

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        """Token ids with the tokenizer's defaults (``add_special_tokens=True``, one BOS at
        most); ``special_tokens=False`` for a text that follows a context."""
        return self.backend.tokenize(texts, special_tokens) if texts else []

    def encode(self, texts: Sequence[str], special_tokens: bool = True) -> list[tuple[list[int], bool] | Unscorable]:
        """Per text, the token ids the scorer needs and whether the text has more tokens than
        ``max_tokens`` (truncation mode), or why it cannot be tokenized.

        In truncation mode only a prefix of a long text is tokenized (see
        :func:`tokenize_prefix`), so the memory and time of a 50 MB text are those of a short
        one. With ``stride`` every token is needed and the whole text is tokenized.
        ``special_tokens=False`` leaves out the BOS (a text that follows a context)."""
        one = lambda t: self.tokenize([t], special_tokens)[0]  # noqa: E731
        out: list[tuple[list[int], bool] | Unscorable | None] = [None] * len(texts)
        short: list[int] = []
        bound = None if self.config.stride is not None else self.max_tokens
        for i, text in enumerate(texts):
            problem = surrogate_problem(text)
            if problem is not None:
                out[i] = Unscorable(Reason("invalid_unicode", problem))
            elif bound is not None and len(text) > prefix_chars(bound):
                out[i] = self._guarded(lambda t: tokenize_prefix(one, t, bound), text)  # noqa: B023
            else:
                short.append(i)
        try:  # one call for the short texts (fast); one at a time if the tokenizer fails on one
            ids_list = self.tokenize([texts[i] for i in short], special_tokens)
            for i, ids in zip(short, ids_list):
                out[i] = (ids, bound is not None and len(ids) > bound)
        except BackendUnavailable:  # a server that does not answer: text by text would wait for it once a text
            raise
        except Exception:  # noqa: BLE001
            for i in short:
                out[i] = self._guarded(lambda t: _whole(one(t), bound), texts[i])
        return out  # type: ignore[return-value]

    @staticmethod
    def _guarded(fn, text: str):  # type: ignore[no-untyped-def]
        try:
            return fn(text)
        except BackendUnavailable:  # the server, not the text: the run stops
            raise
        except Exception as exc:  # noqa: BLE001  (one bad text must not stop the run)
            return Unscorable(Reason("tokenizer_failed", f"the tokenizer failed on this text ({type(exc).__name__}: {str(exc)[:200]})"))

    def score_texts(self, texts: Sequence[str], context: str | None = None, gradient: bool = False, label: str = "") -> list[TokenStats | Unscorable]:
        """Statistics for each text, in order; an :class:`Unscorable` says why one has none.
        A cached record that fails validation is recomputed, with a warning. The same as
        :meth:`plan`, then :meth:`run` with a progress display of its own.

        ``context``: a text the model conditions on before each text, never scored (see
        :mod:`llm_mia.views`): every token of the text is then scored, and ``token_ids``
        starts with the context's last token. The context keys the cache. Not combined with
        ``stride`` (windows) yet.

        ``gradient``: one text at a time, also the norms of the gradient of its loss with
        respect to the weights (``TokenStats.grad_norms``; a backend with the gradient
        capability; not with a context or ``stride``). ``label`` names what is scored on the
        progress bar ("lowercased text")."""
        plan = self.plan(texts, context, gradient)
        with Progress(plan.tokens, self.progress_label(label), enabled=self.progress) as progress:
            return self.run(plan, progress)

    def progress_label(self, label: str = "") -> str:
        """What the progress display calls a pass of this scorer over texts (``label``: the view)."""
        return f"scoring {label + ' ' if label else ''}({self.backend.spec})"

    def plan(self, texts: Sequence[str], context: str | None = None, gradient: bool = False) -> ScoringPlan:
        """Look up the cache and tokenize: what :meth:`run` has left to compute for
        ``texts`` (arguments as :meth:`score_texts`). No forward pass."""
        results: list[TokenStats | Unscorable | None] = [None] * len(texts)
        ctx_ids = self.context_ids(context)
        text_max = self._text_max(ctx_ids)
        settings = self.settings() if context is None else {**self.settings(), "context": context, "max_tokens": text_max}
        if gradient:
            self.check_gradient(context)
            settings = {**settings, "gradient": True}
        keys = [stats_key(settings, t) for t in texts]
        if self.cache is not None:
            bad_before = len(self.cache.bad)
            for i, hit in self.cache.get_many(keys).items():
                results[i] = hit
            bad = self.cache.bad[bad_before:]
            if bad:
                reasons = sorted({reason for _, reason in bad})
                warnings.warn(
                    f"{len(bad)} cached record(s) in {self.cache.path} failed validation ({'; '.join(reasons)}); recomputing them",
                    stacklevel=2,
                )
        first_of: dict[str, int] = {}  # identical texts are scored once
        todo: list[int] = []
        copies: list[int] = []
        for i, r in enumerate(results):
            if r is None:
                (copies if keys[i] in first_of else todo).append(i)
                first_of.setdefault(keys[i], i)
        encoded = self.encode([texts[i] for i in todo], special_tokens=ctx_ids is None)
        segments: list[_Segment] = []
        truncated: dict[int, bool] = {}
        full_ids: dict[int, list[int]] = {}
        for i, enc in zip(todo, encoded):
            if not texts[i].strip():
                results[i] = Unscorable(Reason("empty_text", "empty or whitespace-only text"))
                continue
            if isinstance(enc, Unscorable):
                results[i] = enc
                continue
            ids, cut = enc
            if len(ids) < (2 if ctx_ids is None else 1):
                results[i] = Unscorable(Reason("too_short", f"too short to score: {len(ids)} token(s), at least 2 needed"))
                continue
            if ctx_ids is None:
                segs, full_ids[i], truncated[i] = self._segments(i, ids, cut)
            else:  # one sequence: the context, then the text's first max_tokens tokens, all scored
                kept = ids[:text_max]
                segs, full_ids[i], truncated[i] = [_Segment(i, ctx_ids + kept, len(ctx_ids), 1)], ctx_ids[-1:] + kept, cut or len(ids) > len(kept)
            segments.extend(segs)
        return ScoringPlan(results, keys, segments, full_ids, truncated, {i: first_of[keys[i]] for i in copies}, gradient)

    def run(self, plan: ScoringPlan, progress: Progress | None = None) -> list[TokenStats | Unscorable]:
        """Compute what ``plan`` left to compute (writing each finished text to the cache),
        counting the tokens on ``progress``; the statistics of every text, in order."""
        results = plan.results
        self._run(plan.segments, plan.full_ids, plan.truncated, plan.keys, results, plan.gradient, progress)
        for i, first in plan.copies.items():
            results[i] = results[first]
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def score_sequences(self, sequences: Sequence[tuple[list[int], int]], *, topk: int | None = None) -> list[np.ndarray | Unscorable]:
        """Per-position statistics of token-id sequences built by the caller (such as another
        text's prefix before a suffix): for each ``(ids, score_from)``, an
        ``(len(ids) - score_from, 4)`` float32 array ``[lp, mu, var, top]`` of positions
        ``score_from .. len(ids) - 1`` (see :class:`~llm_mia.types.TokenStats`), or an
        :class:`Unscorable` when the model fails on it. With ``topk = k``: the
        ``(len(ids) - score_from, 2)`` array ``[log_mass, inside]`` of top-k sampling instead
        (:data:`~llm_mia.backends.TOPK`; a backend without it is refused, :class:`SettingError`).
        Batched longest first, failures split as for texts; not cached (the cache is keyed by
        texts). Raises :class:`InputError` for a sequence that cannot be scored
        (``1 <= score_from < len(ids)``, within the model's context)."""
        if topk is not None:
            at_least("topk", topk, 1)
            if TOPK not in self.backend.capabilities:
                raise SettingError(
                    "top_k", f"needs exact top-k probabilities, which {self.backend.spec} cannot give ({TOPK!r} capability); it is refused, not approximated"
                )
        limit = self.backend.max_positions
        for ids, score_from in sequences:
            if not 1 <= score_from < len(ids):
                raise InputError(f"a sequence of {len(ids)} tokens cannot be scored from position {score_from}")
            if limit is not None and len(ids) > limit:
                raise InputError(f"a sequence of {len(ids)} tokens exceeds the model's context length ({limit} positions)")
        segments = [_Segment(i, list(ids), score_from, score_from) for i, (ids, score_from) in enumerate(sequences)]
        order = sorted(range(len(segments)), key=lambda i: -len(segments[i].ids))
        out: list[np.ndarray | Unscorable | None] = [None] * len(segments)
        bs = self.config.batch_size
        for b in range(0, len(order), bs):
            batch = [segments[i] for i in order[b : b + bs]]
            for seg, res in zip(batch, self._forward_or_split(batch, topk=topk)):
                out[seg.doc] = res if isinstance(res, Unscorable) else res[0]
        return out  # type: ignore[return-value]

    # -- internals --------------------------------------------------------------------------

    def context_ids(self, context: str | None) -> list[int] | None:
        """The context's token ids (with the tokenizer's BOS), checked to leave room in the
        model for the text: without an explicit ``max_tokens`` the text gets what is left."""
        if context is None:
            return None
        if not context.strip():
            raise InputError("a context must hold some text")
        if self.config.stride is not None:
            raise InputError("a view with a context cannot be scored in sliding windows (--stride) yet")
        ids = self.tokenize([context])[0]
        limit = self.backend.max_positions
        if limit is not None and len(ids) + (self.config.max_tokens or 1) > limit:
            raise InputError(
                f"a context of {len(ids)} tokens and texts of up to {self.config.max_tokens or 1} tokens exceed the model's "
                f"context length ({limit} positions): shorten the context or lower --max-tokens"
            )
        return ids

    def check_gradient(self, context: str | None) -> None:
        if GRADIENT not in self.backend.capabilities:
            raise InputError(f"{self.backend.spec} gives no gradients (a white-box backend is needed)")
        if context is not None or self.config.stride is not None:
            raise InputError("gradients are computed over a text's first max_tokens tokens alone: not with a context or in sliding windows (--stride)")

    def _text_max(self, ctx_ids: list[int] | None) -> int:
        """Tokens kept of a text: ``max_tokens``, less what a context leaves of the model."""
        limit = self.backend.max_positions
        if ctx_ids is None or limit is None:
            return self.max_tokens
        return min(self.max_tokens, limit - len(ctx_ids))

    def _segments(self, doc: int, ids: list[int], cut: bool = False) -> tuple[list[_Segment], list[int], bool]:
        """The sequences to score for a text of token ids ``ids`` (``cut``: the text has more
        tokens than ``ids`` holds)."""
        n_max, stride = self.max_tokens, self.config.stride
        if stride is None or len(ids) <= n_max:
            kept = ids[:n_max]
            return [_Segment(doc, kept, 1, 1)], kept, cut or len(ids) > n_max
        segs = [_Segment(doc, ids[:n_max], 1, 1)]
        scored_until = n_max  # positions < scored_until are scored
        start = stride
        lead = [ids[0]] if self._restarts_with_bos() and ids[0] == self.bos_id() else []  # window_bos: the text's own BOS
        while scored_until < len(ids):
            end = min(start + n_max, len(ids))
            segs.append(_Segment(doc, lead + ids[start:end], scored_until - start + len(lead), scored_until))
            scored_until = end
            start += stride
        return segs, ids, False

    def _run(
        self,
        segments: list[_Segment],
        full_ids: dict[int, list[int]],
        truncated: dict[int, bool],
        keys: list[str],
        results: list[TokenStats | Unscorable | None],
        gradient: bool = False,
        progress: Progress | None = None,
    ) -> None:
        if not segments:
            return
        # longest documents first, each document's windows together (so that with --stride a
        # finished document reaches the cache early and an interrupted run loses little)
        first_len: dict[int, int] = {}
        for seg in segments:
            first_len.setdefault(seg.doc, len(seg.ids))
        order = sorted(range(len(segments)), key=lambda s: (-first_len[segments[s].doc], segments[s].doc, s))
        pieces: dict[int, list[tuple[int, np.ndarray]]] = {d: [] for d in full_ids}
        grad_norms: dict[int, np.ndarray] = {}
        remaining = {d: 0 for d in full_ids}
        for seg in segments:
            remaining[seg.doc] += 1
        bs = 1 if gradient else self.config.batch_size  # a backward pass per text
        failed: set[int] = set()
        for b in range(0, len(order), bs):
            batch = [segments[s] for s in order[b : b + bs]]
            too_big = self._gradient_refusal(len(batch[0].ids)) if gradient else None
            stats = [too_big] if too_big else self._forward_or_split(batch, gradient)  # (n_scored, 4) and gradient norms, or a failure, per segment
            done: list[tuple[str, TokenStats]] = []
            for seg, out in zip(batch, stats):
                if isinstance(out, Unscorable):
                    results[seg.doc] = out
                    failed.add(seg.doc)
                    continue
                arr, norms = out
                pieces[seg.doc].append((seg.abs_start, arr))
                if norms is not None:
                    grad_norms[seg.doc] = norms
                remaining[seg.doc] -= 1
                if remaining[seg.doc] == 0 and seg.doc not in failed:
                    ts = _assemble(full_ids[seg.doc], pieces.pop(seg.doc), truncated[seg.doc], grad_norms.pop(seg.doc, None))
                    results[seg.doc] = ts
                    done.append((keys[seg.doc], ts))
            if self.cache is not None and done:
                self.cache.put_many(done)
            if progress is not None:
                progress.update(sum(len(s.ids) for s in batch))

    def _gradient_refusal(self, n: int) -> Unscorable | None:
        """A text of ``n`` tokens whose backward pass would not fit in the device's free memory
        (the backend's estimate against what is free now), refused before it runs: on a CPU,
        running out of memory kills the process instead of raising an error."""
        estimate, free_bytes = getattr(self.backend, "gradient_bytes", None), getattr(self.backend, "free_bytes", None)
        if estimate is None or free_bytes is None:
            return None
        needed, free = estimate(n), free_bytes()
        if free is None or needed <= free:
            return None
        lo, hi = 1, n - 1  # the most tokens that fit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if estimate(mid) <= free else (lo, mid - 1)
        hint = f"about {lo} tokens fit (--max-tokens {lo})" if lo >= 2 else "free memory first"
        return Unscorable(
            Reason(
                "out_of_memory",
                f"the gradient of this text's {n} tokens needs about {describe_bytes(needed)} and {describe_bytes(free)} is free: {hint}",
            )
        )

    def _forward(self, batch: list[_Segment], gradient: bool = False, topk: int | None = None) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """One forward pass over a batch: per segment an (n_scored, 4) float32 array (with
        ``topk``: the (n_scored, 2) top-k array), and with ``gradient`` (one segment, scored
        from its second token) the gradient norms."""
        if topk is not None:
            return [(arr, None) for arr in self.backend.forward_topk([(s.ids, s.score_from) for s in batch], topk)]  # type: ignore[attr-defined]
        if gradient:
            (seg,) = batch
            arr, norms = self.backend.forward_with_gradient(seg.ids)  # type: ignore[attr-defined]
            return [(arr, np.asarray(norms, dtype=np.float64))]
        return [(arr, None) for arr in self.backend.forward([(s.ids, s.score_from) for s in batch])]

    def _forward_or_split(
        self, batch: list[_Segment], gradient: bool = False, topk: int | None = None
    ) -> list[tuple[np.ndarray, np.ndarray | None] | Unscorable]:
        """Run a batch; if the model fails (e.g. out of memory), retry its halves, so that only
        a text on which the model fails by itself is reported as unscorable (with the error)."""
        try:
            out: list[tuple[np.ndarray, np.ndarray | None] | Unscorable] = list(self._forward(batch, gradient, topk))
            self.forward_passes += 1
            Scorer.forward_passes_total += 1
            self._failures_in_a_row = 0
            return out
        except (BackendUnavailable, UntrustedServer):  # a server that does not answer, or answers the impossible: splitting would not help
            raise
        except Exception as exc:  # noqa: BLE001  (a long run must not stop for one text)
            if len(batch) == 1:
                msg = f"{type(exc).__name__}: {exc}"
                self._failures_in_a_row += 1
                if self._failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                    raise ScoringError(
                        f"the model failed on {self._failures_in_a_row} texts in a row, last with {msg[:300]}; stopping (finished texts are cached)"
                    ) from exc
                return [Unscorable(Reason("model_failed", f"the model failed on this text ({msg[:300]})"))]
            self.backend.free_memory()
            half = len(batch) // 2
            return self._forward_or_split(batch[:half], gradient, topk) + self._forward_or_split(batch[half:], gradient, topk)


PREFIX_MARGIN = 32
"""Tokens past ``max_tokens`` that a tokenized prefix must reach before its first tokens are
trusted (a token can merge across the cut only near the end of the prefix)."""
CHARS_PER_TOKEN = 8
"""First guess of the characters a token covers (English prose: about 4): the first prefix
tried holds ``CHARS_PER_TOKEN * (max_tokens + PREFIX_MARGIN)`` characters."""


def prefix_chars(max_tokens: int) -> int:
    """Texts up to this many characters are tokenized whole."""
    return CHARS_PER_TOKEN * (max_tokens + PREFIX_MARGIN)


def tokenize_prefix(tokenize: Callable[[str], list[int]], text: str, max_tokens: int) -> tuple[list[int], bool]:
    """The first ``max_tokens`` token ids of ``text`` and whether it has more, from a prefix.

    A prefix of ``c`` characters (``c = prefix_chars(max_tokens)``, doubled as needed) is
    tokenized; its first ``max_tokens + 1`` ids are accepted when it yields at least
    ``max_tokens + PREFIX_MARGIN`` ids and a prefix of ``2c`` characters starts with the same
    ids (a merge across the cut would change them). Otherwise the prefix doubles; once it
    reaches the whole text the result is the whole text's ids, so the answer always equals
    ``tokenize(text)[:max_tokens]`` where the check holds. Memory and time are those of a few
    times ``prefix_chars(max_tokens)`` characters, whatever the text's length.
    """
    c = prefix_chars(max_tokens)
    while c < len(text):
        ids = tokenize(text[:c])
        if len(ids) >= max_tokens + PREFIX_MARGIN:
            longer = tokenize(text[: 2 * c]) if 2 * c < len(text) else tokenize(text)
            if longer[: max_tokens + 1] == ids[: max_tokens + 1]:
                return ids[:max_tokens], True
        c *= 2
    return _whole(tokenize(text), max_tokens)


def _whole(ids: list[int], max_tokens: int | None) -> tuple[list[int], bool]:
    """Ids of a whole text, cut to ``max_tokens`` (None: kept whole), and whether they were cut."""
    if max_tokens is None or len(ids) <= max_tokens:
        return ids, False
    return ids[:max_tokens], True


def _assemble(ids: list[int], pieces: list[tuple[int, np.ndarray]], truncated: bool, grad_norms: np.ndarray | None = None) -> TokenStats:
    pieces.sort(key=lambda x: x[0])
    arr = np.concatenate([a for _, a in pieces], axis=0)
    return TokenStats(
        token_ids=np.asarray(ids, dtype=np.int64),
        logprobs=np.ascontiguousarray(arr[:, 0]),
        dist_mean=np.ascontiguousarray(arr[:, 1]),
        dist_var=np.ascontiguousarray(arr[:, 2]),
        truncated=truncated,
        top_logprob=np.ascontiguousarray(arr[:, 3]),
        grad_norms=grad_norms,
    )
