"""A small generic OpenAI-compatible completions server for tests, written independently of
llm-mia's scorer: transformers' forward pass and a log-softmax, the vLLM dialect (or
llama-cpp-python's ``/extras/tokenize``), and switches that reproduce known server defects."""

from __future__ import annotations

import threading
import time
from typing import Any

import torch


class FakeOpenAIServer:
    """Serve the model folder ``model_dir`` as ``name``.

    ``late``: prompt log-probabilities read one position late (``log p(x_i | x_<=i)``), as
    llama-cpp-python's server does. ``first_value``: a number for the first prompt token
    instead of null. ``tops``: return ``top_logprobs`` for prompt positions (``tops_unasked``:
    the prompt token's own entry even with ``logprobs: 0``). ``dialect``:
    ``"vllm"`` (``/tokenize``) or ``"extras"`` (``/extras/tokenize``). ``delay``: seconds
    each completion takes (to observe requests in flight). ``flatten``: the logits divided by
    this (a large value: a near-uniform distribution); ``uniform``: every token at ``-log V``,
    as a model served without its weights."""

    def __init__(
        self,
        model_dir: Any,
        *,
        name: str = "tiny",
        late: bool = False,
        first_value: bool = False,
        tops: bool = True,
        dialect: str = "vllm",
        tops_unasked: bool = False,
        delay: float = 0.0,
        extra_models: tuple[str, ...] = (),
        flatten: float = 1.0,
        uniform: bool = False,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.name, self.late, self.first_value, self.tops, self.dialect, self.delay = name, late, first_value, tops, dialect, delay
        self.extra_models = extra_models
        self.tops_unasked = tops_unasked
        self.flatten, self.uniform = flatten, uniform
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = self.completions_served = 0

    def routes(self) -> dict:
        tokenize_path = "/tokenize" if self.dialect == "vllm" else "/extras/tokenize"
        detokenize_path = "/detokenize" if self.dialect == "vllm" else "/extras/detokenize"
        return {
            ("GET", "/v1/models"): lambda _: {"data": [{"id": n, "object": "model", "max_model_len": 256} for n in (self.name, *self.extra_models)]},
            ("POST", tokenize_path): self.tokenize,
            ("POST", detokenize_path): self.detokenize,
            ("POST", "/v1/completions"): self.completions,
        }

    def tokenize(self, body: dict) -> dict:
        text = body["prompt"] if self.dialect == "vllm" else body["input"]
        special = body.get("add_special_tokens", True) if self.dialect == "vllm" else True
        return {"tokens": self.tok(text, add_special_tokens=special)["input_ids"]}

    def detokenize(self, body: dict) -> dict:
        text = self.tok.decode(body["tokens"])
        return {"prompt": text} if self.dialect == "vllm" else {"text": text}

    def completions(self, body: dict) -> dict:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            return self._complete(body)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.completions_served += 1

    def _complete(self, body: dict) -> dict:
        ids = list(body["prompt"])
        k = int(body.get("logprobs") or 0)
        with torch.no_grad():
            logits = self.model(torch.tensor([ids])).logits[0].float() / self.flatten
            logp = torch.log_softmax(torch.zeros_like(logits) if self.uniform else logits, dim=-1)
        nxt = int(torch.argmax(logp[-1]))
        names = [self.tok.decode([i]) for i in ids]

        def top(row: int) -> dict[str, float]:
            values, index = torch.topk(logp[row], max(k, 1))
            return {self.tok.decode([int(i)]): float(v) for v, i in zip(values, index)}

        gen = {"tokens": [self.tok.decode([nxt])], "token_logprobs": [float(logp[-1, nxt])], "top_logprobs": [top(-1)] if k else None}
        if not body.get("echo"):
            return {"choices": [{"index": 0, "text": gen["tokens"][0], "logprobs": gen}]}
        shift = 0 if self.late else 1
        lps: list[float | None] = [float(logp[0, ids[0]]) if self.first_value else None]
        lps += [float(logp[p - shift, ids[p]]) for p in range(1, len(ids))]
        tops = [None] + [top(p - shift) for p in range(1, len(ids))] if self.tops and k else None
        if tops is None and self.tops_unasked:  # the prompt token itself, as vLLM gives with logprobs 0
            tops = [None] + [{names[p]: lps[p]} for p in range(1, len(ids))]
        logprobs = {
            "tokens": names + gen["tokens"],
            "token_logprobs": lps + gen["token_logprobs"],
            "top_logprobs": None if tops is None else tops + (gen["top_logprobs"] or [None]),
        }
        return {"choices": [{"index": 0, "text": "".join(logprobs["tokens"]), "logprobs": logprobs}]}
