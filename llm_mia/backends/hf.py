"""The in-process Hugging Face backend: a causal LM run by torch, with every statistic exact.

For every scored position t it computes, on the model's device,

    lp_t   = log p(x_t | x_<t)
    mu_t   = sum_v p(v | x_<t) log p(v | x_<t)                 (= minus the entropy)
    var_t  = sum_v p(v | x_<t) (log p(v | x_<t) - mu_t)^2

The language-model head is applied to the backbone's hidden states in chunks of rows
(scored positions), one vocabulary tile at a time, so that at most
``chunk_elements`` logits exist at once and the head's weights are read once per chunk of
rows: the (tokens x vocabulary) matrix of a batch is never held whole. Each tile gets exact
two-pass moments, and the tiles are merged exactly (see :func:`token_stats`). Padding
positions and context-only positions never reach the head.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import GRADIENT, GENERATE, LOGPROBS, MOMENTS, TOP1, TOPK
from .loading import tokenize_with

if TYPE_CHECKING:
    from .loading import LoadedModel


class HFBackend:
    """A :class:`~llm_mia.backends.loading.LoadedModel` behind the scoring-backend interface
    (:class:`~llm_mia.backends.base.ScoringBackend`)."""

    capabilities = frozenset({LOGPROBS, MOMENTS, TOP1, GRADIENT, TOPK, GENERATE})

    def __init__(self, lm: LoadedModel, *, padding_side: str = "right", chunk_elements: int = 1 << 24, vocab_tile: int = 4096) -> None:
        """``padding_side`` ("right" or "left": scores do not depend on it), ``chunk_elements``
        (bound on the logits held at once) and ``vocab_tile`` (vocabulary entries computed
        together) are the scorer's kernel settings (:class:`~llm_mia.scoring.ScorerConfig`)."""
        self.lm = lm
        self.padding_side, self.chunk_elements, self.vocab_tile = padding_side, chunk_elements, vocab_tile
        self.spec, self.identity, self.tokenizer_identity = lm.spec, lm.identity, lm.tokenizer_identity
        self.tokenizer: Any = lm.tokenizer
        self.max_positions = lm.max_positions
        self.share_prefix = True
        """Run a context shared by a whole batch once (:meth:`_shared_prefix`); off: each
        sequence runs whole (the numbers differ by float rounding only)."""
        self.head_ok: bool | None = None
        """Whether the output head can be applied to hidden states on its own (tile by tile);
        None until the first batch checks it, False for the full forward pass."""

    def cache_identity(self) -> dict[str, object]:
        return {
            "model": self.lm.current_identity(),
            "tokenizer": self.lm.tokenizer_identity,
            "dtype": self.lm.dtype,
            "device": self.lm.device.split(":")[0],
        }

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        return tokenize_with(self.lm.tokenizer, texts, special_tokens)

    def free_memory(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def forward(self, batch: Sequence[tuple[list[int], int]]) -> list[np.ndarray]:
        """One forward pass over a batch; returns per sequence an (n_scored, 4) float32 array."""
        return self._batched(
            batch, lambda rows, targets, logits_of: token_stats(rows, targets, logits_of, self._vocab_size(), self.chunk_elements, self.vocab_tile)
        )

    def forward_topk(self, batch: Sequence[tuple[list[int], int]], k: int) -> list[np.ndarray]:
        """One forward pass over a batch; per sequence an (n_scored, 2) float32 array
        ``[log_mass, inside]`` of top-k sampling (:func:`topk_stats`)."""
        return self._batched(
            batch, lambda rows, targets, logits_of: topk_stats(rows, targets, logits_of, self._vocab_size(), k, self.chunk_elements, self.vocab_tile)
        )

    def generate(self, prefixes: Sequence[list[int]], n: int, temperature: float = 0.0, seeds: Sequence[int] | None = None) -> list[list[int]]:
        """The ``n`` tokens the model appends to each prefix (all of one length), one at a time
        with its key-value cache (named ``cache`` or, in older transformers, ``past_key_values``),
        from its float32 logits: the argmax at temperature 0, else a draw from
        ``softmax(logits / temperature)`` with a generator seeded by the sequence's seed."""
        import torch

        if not prefixes or n == 0:
            return [[] for _ in prefixes]
        if temperature < 0:
            raise ValueError(f"temperature must be 0 or more, not {temperature}")
        gens = None
        if temperature > 0:
            seeds = list(seeds) if seeds is not None else list(range(len(prefixes)))
            gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        model = self.lm.model
        key = self._cache_key(model)
        last = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
        x = torch.tensor([list(p) for p in prefixes], dtype=torch.long, device=model.device)
        out: list[Any] = []
        with torch.inference_mode():
            step = model(input_ids=x, use_cache=True, **last)
            while True:
                logits = step.logits[:, -1].float()
                if gens is None:
                    nxt = logits.argmax(dim=-1)
                else:
                    probs = torch.softmax(logits / temperature, dim=-1).cpu()
                    nxt = torch.tensor([int(torch.multinomial(probs[r], 1, generator=g)) for r, g in enumerate(gens)], device=model.device)
                out.append(nxt)
                if len(out) == n:
                    break
                step = model(input_ids=nxt[:, None], use_cache=True, **{key: getattr(step, key)}, **last)
        return torch.stack(out, dim=1).tolist()

    def _batched(self, batch: Sequence[tuple[list[int], int]], reduce: Callable[[Any, Any, Callable[[Any, int, int], Any]], Any]) -> list[np.ndarray]:
        """Run the model over a padded batch and ``reduce(rows, targets, logits_of)`` the
        scored positions (rows: hidden states or full logits) to one row of numbers each.

        A context that every sequence of the batch starts with (ReCaLL's prefix: see
        :meth:`_shared_prefix`) is run once, and its key-value cache serves every sequence."""
        import torch

        model = self.lm.model
        device = model.device
        with torch.inference_mode():
            if self.head_ok is None:
                first = batch[0][0]
                self.head_ok = self._check_head(torch.tensor([first[:16]], dtype=torch.long, device=device))
        shared = self._shared_prefix(batch) if self.head_ok else 0
        cache: dict[str, Any] = {}
        if shared:
            cache = self._prefix_cache(batch[0][0][:shared], len(batch))
            if not cache:  # a model whose cache cannot be shared: every sequence runs whole, from now on
                self.share_prefix, shared = False, 0
        if shared:
            batch = [(ids[shared:], start - shared) for ids, start in batch]
        lengths = [len(ids) for ids, _ in batch]
        width = max(lengths)
        pad_id = 0
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        side = "right" if shared else self.padding_side  # after a shared prefix, padding goes at the end
        for row, (ids, _) in enumerate(batch):
            n = len(ids)
            cols = slice(0, n) if side == "right" else slice(width - n, width)
            input_ids[row, cols] = torch.tensor(ids)
            mask[row, cols] = 1
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        score_from = torch.tensor([start for _, start in batch])
        # a position p (p >= 1 within its segment) is predicted from the hidden state at p - 1
        scored = mask[:, 1:].bool() & mask[:, :-1].bool() & (position_ids[:, 1:] >= score_from[:, None])
        input_ids, mask, position_ids, scored = (t.to(device) for t in (input_ids, mask, position_ids, scored))
        with torch.inference_mode():
            logits_of: Callable[[Any, int, int], Any]
            if self.head_ok:
                extra: dict[str, Any] = {"use_cache": False}
                if shared:
                    extra = {"use_cache": True, **cache}
                    mask = torch.cat([torch.ones((len(batch), shared), dtype=mask.dtype, device=device), mask], dim=1)
                    position_ids = position_ids + shared
                hidden = model.base_model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, **extra).last_hidden_state  # [B, L, H]
                del extra, cache  # the repeated prefix and what the batch appended to it
                rows = hidden[:, :-1][scored]  # [M, H]
                logits_of = self._head_logits
            else:  # full logits: the model's own head (see _check_head)
                logits = model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, use_cache=False).logits  # [B, L, V]
                rows = logits[:, :-1][scored]  # [M, V]
                logits_of = logits_columns
            targets = input_ids[:, 1:][scored]  # [M]
            out = reduce(rows, targets, logits_of)
        out_np = out.cpu().numpy()
        counts = scored.sum(-1).tolist()
        return list(np.split(out_np, np.cumsum(counts)[:-1]))

    def _shared_prefix(self, batch: Sequence[tuple[list[int], int]]) -> int:
        """Tokens that every sequence of ``batch`` starts with and that none scores, less one
        (the last context token is run with each sequence: its hidden state predicts the first
        scored token); 0 below ``MIN_SHARED`` tokens, for a batch of one, or with
        ``share_prefix`` off."""
        if not self.share_prefix or len(batch) < 2:
            return 0
        first = batch[0][0]
        n = min(start for _, start in batch) - 1
        for ids, _ in batch[1:]:
            n = next((i for i in range(min(n, len(ids))) if ids[i] != first[i]), min(n, len(ids)))
        return n if n >= MIN_SHARED else 0

    @staticmethod
    def _cache_key(model: Any) -> str:
        """The name under which ``model``'s forward takes and returns its key-value cache
        (``cache``, or ``past_key_values`` in older transformers)."""
        return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def _prefix_cache(self, ids: list[int], copies: int) -> dict[str, Any]:
        """The key-value cache of ``ids`` run once, repeated for ``copies`` sequences, as the
        keyword argument that hands it to the backbone; empty for a model whose cache cannot
        be repeated so."""
        import torch

        backbone = self.lm.model.base_model
        key = self._cache_key(backbone)
        x = torch.tensor([ids], dtype=torch.long, device=self.lm.model.device)
        with torch.inference_mode():
            cache: Any = getattr(backbone(input_ids=x, use_cache=True), key, None)
            layers = getattr(cache, "layers", None)
            if not callable(getattr(cache, "batch_repeat_interleave", None)) or layers is None:
                return {}
            if any(type(layer).__name__ not in REPEATABLE_LAYERS for layer in layers):
                return {}  # e.g. a hybrid model's convolution or recurrent state: not repeated with the keys and values
            cache.batch_repeat_interleave(copies)
        return {key: cache}

    def forward_with_gradient(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """One sequence, every position after the first scored: its (n - 1, 4) statistics and
        the norms [L1, L2, Linf] of the gradient of its mean loss with respect to every weight
        tensor that takes a gradient, each averaged over those tensors (one backward pass; the
        model's own full logits, in the model's dtype, then float32)."""
        import torch

        model = self.lm.model
        x = torch.tensor([ids], dtype=torch.long, device=model.device)
        model.zero_grad(set_to_none=True)
        try:
            with torch.enable_grad():
                logits = model(input_ids=x, use_cache=False).logits[0, :-1].float()  # [n-1, V]
                targets = x[0, 1:]
                lp = torch.log_softmax(logits, dim=-1).gather(-1, targets[:, None]).squeeze(-1)
                (-lp.mean()).backward()
            per_tensor = [_grad_norms(p.grad.detach()) for p in model.parameters() if p.grad is not None]
            if not per_tensor:
                raise RuntimeError("no weight of the model takes a gradient")
            norms = np.mean(np.array(per_tensor), axis=0)
        finally:
            model.zero_grad(set_to_none=True)
        with torch.inference_mode():
            stats = token_stats(logits.detach(), targets, logits_columns, logits.shape[1], self.chunk_elements, self.vocab_tile)
        return stats.cpu().numpy(), norms

    def free_bytes(self) -> int | None:
        """Bytes the model's device has free (None if unknown: :func:`~llm_mia.backends.memory.available_bytes`)."""
        from .memory import available_bytes

        return available_bytes(self.lm.device)

    def gradient_bytes(self, n: int) -> int:
        """Bytes a :meth:`forward_with_gradient` of ``n`` tokens adds at its peak, estimated to
        err high.

        needed = (P + 2 V H) s + n ((GRAD_VOCAB_COPIES 4 + 2 s') V + L (GRAD_WIDTHS[0] H + GRAD_WIDTHS[1] I) s) + n^2 A,
        with P weights of s bytes each (their gradients; 2 V H: the embedding's gradient from
        the input and from the output head, summed where the two are tied), V the vocabulary, L
        layers of width H and feed-forward width I (4 H where the configuration names none),
        s' = s below float32 (the logits and their gradient in the model's dtype), else 0, and
        A the bytes per pair of positions (:meth:`_attention_pair_bytes`).
        Checked against the measured peak by benchmarks/gradient_memory.py."""
        model = self.lm.model
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        size = next(model.parameters()).element_size()
        weights = sum(p.numel() for p in model.parameters() if p.requires_grad)
        hidden = int(config.hidden_size)
        width = int(getattr(config, "intermediate_size", None) or 4 * hidden)
        layers = int(config.num_hidden_layers)
        below_float32 = 2 * size if size < 4 else 0  # the logits and their gradient in the model's dtype too
        vocab = self._vocab_size() * (GRAD_VOCAB_COPIES * 4 + below_float32)
        per_token = vocab + layers * (GRAD_WIDTHS[0] * hidden + GRAD_WIDTHS[1] * width) * size
        return (weights + 2 * self._vocab_size() * hidden) * size + n * per_token + n * n * self._attention_pair_bytes(config, layers)

    def _attention_pair_bytes(self, config: Any, layers: int) -> int:
        """Bytes per (query, key) pair of a backward pass: a float32 mask (4) where attention
        runs fused; ``GRAD_ATTENTION_COPIES`` float32 (heads x n x n) tensors per layer where it is
        materialized (eager attention, or a mask beyond causal: sliding windows)."""
        eager = getattr(config, "_attn_implementation", None) == "eager"
        if eager or getattr(config, "sliding_window", None):
            return GRAD_ATTENTION_COPIES * 4 * int(getattr(config, "num_attention_heads", 1)) * layers
        return 4

    def _vocab_size(self) -> int:
        return int(self.lm.model.get_output_embeddings().weight.shape[0])

    def _head_logits(self, hidden, start: int, stop: int):  # type: ignore[no-untyped-def]
        """Logits of vocabulary entries ``start:stop`` from hidden states, as the model's
        forward would compute them (a linear head; anything else fails :meth:`_check_head`)."""
        import torch

        head = self.lm.model.get_output_embeddings()
        if not isinstance(head, torch.nn.Linear):
            raise TypeError(f"the output head is a {type(head).__name__}, not a linear layer")
        bias = None if head.bias is None else head.bias[start:stop]
        logits = torch.nn.functional.linear(hidden, head.weight[start:stop], bias).float()
        cap = getattr(self.lm.model.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return logits

    def _check_head(self, probe) -> bool:  # type: ignore[no-untyped-def]
        """True when backbone + head reproduce the model's own logits on a short probe."""
        import torch

        model = self.lm.model
        try:
            full = model(input_ids=probe, use_cache=False).logits.float()
            hidden = model.base_model(input_ids=probe, use_cache=False).last_hidden_state
            ours = self._head_logits(hidden, 0, self._vocab_size())
            ok = bool(torch.allclose(full, ours, rtol=1e-3, atol=1e-3))
        except Exception:  # a model whose backbone cannot be called on its own
            ok = False
        if not ok:
            warnings.warn(
                f"{self.lm.spec}: the language-model head could not be applied separately; falling back to full logits per batch (more memory).",
                stacklevel=3,
            )
        return ok


REPEATABLE_LAYERS = frozenset({"DynamicLayer", "DynamicSlidingWindowLayer"})
"""Cache layers that hold keys and values alone, which ``batch_repeat_interleave`` repeats whole."""
MIN_SHARED = 16
"""A context shared by a batch is run once from this many tokens (shorter, the saving is nil)."""
GRAD_VOCAB_COPIES = 4
"""float32 (tokens x vocabulary) tensors a backward pass holds at once (logits, log-softmax, their gradients)."""
GRAD_ATTENTION_COPIES = 4
"""float32 (heads x tokens x tokens) tensors per layer a backward pass holds where attention is materialized."""
GRAD_WIDTHS = (8, 6)
"""Activations a backward pass keeps per layer and token: 8 of the hidden width, 6 of the feed-forward width."""
GRAD_CHUNK = 1 << 22
"""Elements of a gradient tensor taken into float64 at once (32 MiB) when its norms are summed."""


def _grad_norms(grad) -> list[float]:  # type: ignore[no-untyped-def]
    """[L1, L2, Linf] of one gradient tensor, summed in float64 a chunk at a time (a float64
    copy of a whole embedding's gradient would cost twice its float32 memory)."""
    import torch

    l1 = sq = 0.0
    top = 0.0
    for part in grad.reshape(-1).split(GRAD_CHUNK):
        a = part.abs().to(torch.float64)
        l1 += float(a.sum())
        sq += float((a * a).sum())
        top = max(top, float(a.max()))
    return [l1, sq**0.5, top]


def logits_columns(logits, start: int, stop: int):  # type: ignore[no-untyped-def]
    """Columns ``start:stop`` of full logits, as float32 (the fallback path)."""
    return logits[:, start:stop].float()


def token_stats(rows, targets, logits_of, vocab: int, chunk_elements: int, tile: int):  # type: ignore[no-untyped-def]
    """(M, 4) float32 tensor [lp, mu, var, top] from M rows (hidden states, or full logits).

    Rows go in chunks of ``R = chunk_elements // tile`` (at least 1). For each chunk the head
    gives one tile of logits ``z`` at a time (``logits_of(rows, v0, v1)``, [R, tile] float32),
    so the weights are read once per chunk, not once per few rows. Per tile c and row, with
    ``q = log_softmax(z)`` restricted to the tile: ``L_c = logsumexp(z)``, ``d_c = E_q[q]``,
    ``s_c = Var_q[q]`` and ``m_c = max(z)`` (two passes; on a CPU over blocks of rows that stay
    in cache). The tiles merge exactly (Chan, Golub and LeVeque 1979), in the frame of log p:

        lse = logsumexp_c L_c,  a_c = L_c - lse,  w_c = exp(a_c),
        mu = sum_c w_c (d_c + a_c),  var = sum_c w_c (s_c + (d_c + a_c - mu)^2),
        lp = z_target - lse,  top = max_c m_c - lse.

    Every sum runs over small numbers (log-probabilities, not raw logits), which keeps float32
    error at the level of a whole-vocabulary log-softmax or below. A logit of -inf (a masked
    entry) has p = 0 and adds nothing; a tile of only -inf has w_c = 0.
    """
    import torch

    tile = max(1, min(tile, vocab))
    chunk = max(1, chunk_elements // tile)
    n_tiles = -(-vocab // tile)
    out = torch.empty((rows.shape[0], 4), dtype=torch.float32, device=rows.device)
    for start in range(0, rows.shape[0], chunk):
        part = rows[start : start + chunk]
        tgt = targets[start : start + chunk]
        n = part.shape[0]
        block = STATS_BLOCK_ROWS if rows.device.type == "cpu" else n
        moments = torch.empty((4, n, n_tiles), dtype=torch.float32, device=rows.device)  # L_c, d_c, s_c, m_c
        z_target = torch.empty(n, dtype=torch.float32, device=rows.device)
        for c in range(n_tiles):
            v0 = c * tile
            z = logits_of(part, v0, min(v0 + tile, vocab))  # [n, <= tile]
            here = (tgt >= v0) & (tgt < v0 + z.shape[1])
            z_target[here] = z[here, tgt[here] - v0]
            for b in range(0, n, block):
                moments[:, b : b + block, c] = _tile_moments(z[b : b + block])
        lse_c, d_c, s_c, m_c = moments
        lse = torch.logsumexp(lse_c, dim=1)
        a_c = lse_c - lse[:, None]
        w = a_c.exp()
        mean_c = d_c + torch.where(w > 0, a_c, 0.0)  # a_c = -inf only where w = 0
        mu = torch.linalg.vecdot(w, mean_c)
        var = torch.linalg.vecdot(w, s_c + (mean_c - mu[:, None]).square())
        out[start : start + n] = torch.stack([z_target - lse, mu, var, m_c.amax(dim=1) - lse], dim=1)
    return out


def topk_stats(rows, targets, logits_of, vocab: int, k: int, chunk_elements: int, tile: int):  # type: ignore[no-untyped-def]
    """(M, 2) float32 tensor ``[log_mass, inside]`` of top-k sampling from M rows, one tile of
    logits at a time as :func:`token_stats`: the k largest logits are kept over the tiles
    (``torch.topk`` of each tile merged with the best so far), with ``lse`` the logsumexp of
    all, ``log_mass = logsumexp(top k) - lse`` and ``inside = z_target >= k-th largest``
    (a tie at the k-th place counts as inside). ``k >= vocab``: mass 0, every token inside."""
    import torch

    tile = max(1, min(tile, vocab))
    k = max(1, min(k, vocab))
    chunk = max(1, chunk_elements // tile)
    out = torch.empty((rows.shape[0], 2), dtype=torch.float32, device=rows.device)
    for start in range(0, rows.shape[0], chunk):
        part = rows[start : start + chunk]
        tgt = targets[start : start + chunk]
        n = part.shape[0]
        best = torch.empty((n, 0), dtype=torch.float32, device=rows.device)
        lse_c = []
        z_target = torch.empty(n, dtype=torch.float32, device=rows.device)
        for v0 in range(0, vocab, tile):
            z = logits_of(part, v0, min(v0 + tile, vocab))  # [n, <= tile]
            here = (tgt >= v0) & (tgt < v0 + z.shape[1])
            z_target[here] = z[here, tgt[here] - v0]
            lse_c.append(torch.logsumexp(z, dim=1))
            both = torch.cat([best, z.topk(min(k, z.shape[1]), dim=1).values], dim=1)
            best = both.topk(min(k, both.shape[1]), dim=1).values  # sorted, largest first
        lse = torch.logsumexp(torch.stack(lse_c, dim=1), dim=1)
        out[start : start + n, 0] = torch.logsumexp(best, dim=1) - lse
        out[start : start + n, 1] = (z_target >= best[:, -1]).float()
    return out


STATS_BLOCK_ROWS = 64


def _tile_moments(z):  # type: ignore[no-untyped-def]
    """[4, r]: logsumexp of the logits z [r, c], mean and variance of q = log_softmax(z)
    under softmax(z), computed from ``z - max(z)`` (two passes), and max(z)."""
    import torch

    top = z.amax(dim=-1, keepdim=True)
    zmax_row = top.squeeze(1)
    zc = z - top
    e = zc.exp()
    s0 = e.sum(-1)
    m = torch.linalg.vecdot(e, zc) / s0  # E[z - top]
    var = torch.linalg.vecdot(e, zc.sub_(m[:, None]).square_()) / s0
    log_s0 = s0.log()
    lse, mean = top.squeeze(1) + log_s0, m - log_s0
    bad = ~(torch.isfinite(mean) & torch.isfinite(var))
    if bool(bad.any()):  # -inf logits: p = 0 there, and 0 * inf must count as 0
        zb = z[bad]
        finite = torch.isfinite(zb)
        zmax = zb.amax(-1)
        zc = torch.where(finite, zb - zmax[:, None], 0.0)
        e = torch.where(finite, zc.exp(), 0.0)
        s0 = e.sum(-1)
        some = s0 > 0  # a tile of only -inf gets lse = -inf: weight 0 in the merge
        m = torch.where(some, torch.linalg.vecdot(e, zc) / s0, 0.0)
        v = torch.where(some, torch.linalg.vecdot(e, (zc - m[:, None]).square()) / s0, 0.0)
        log_s0 = torch.where(some, s0.log(), 0.0)
        lse[bad] = torch.where(some, zmax + log_s0, float("-inf"))
        mean[bad], var[bad] = m - log_s0, v
    return torch.stack([lse, mean, var, zmax_row])
