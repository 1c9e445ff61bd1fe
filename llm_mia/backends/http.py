"""A served model over HTTP: the client side of :mod:`llm_mia.serve`'s protocol.

``--model http://HOST:PORT/v1`` (or ``https://``) scores through a server instead of a model
in this process. The server's ``GET /v1/models`` names the model, its weights' and
tokenizer's identities and what it computes exactly (``capabilities``); tokenization follows
the server's tokenizer (``POST /tokenize``); each scorer batch is one ``POST
/v1/completions`` request (``echo``, ``max_tokens: 0``, token-id prompts). The cache is keyed
by the server's model identity, device and dtype, as for a model in this process, so the same
model served or loaded shares its cached statistics.

Networks fail: every request has a timeout, and a refused or dropped connection, a timeout,
or a 429, 502, 503 or 504 answer is retried with exponential backoff (``Retry-After`` is
honoured) up to ``retries`` times; then :class:`~llm_mia.errors.BackendUnavailable` stops the
run (finished batches are cached, so a rerun resumes). A 500 answer is the model failing on
that batch: the scorer splits the batch, as for a model in this process. A 4xx answer is a
bug or a refused setting, and is reported with the server's message.

The API key (if the server needs one) comes from the environment variable named by
``api_key_env`` (default ``LLM_MIA_API_KEY``) and is sent only in the ``Authorization``
header: it never appears in messages, score files, reports or provenance.

Only servers that speak llm-mia's extension (``llm-mia serve``) are accepted so far: a
generic OpenAI-compatible server's prompt log-probabilities cannot be trusted on its word
(llama-cpp-python's are read one position late, without any error; see issue 12).
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import BackendUnavailable, ModelLoadError
from ..serve import MAX_PROMPTS
from .base import CAPABILITY_WORDS

API_KEY_ENV = "LLM_MIA_API_KEY"
RETRY_STATUSES = frozenset({429, 502, 503, 504})


def is_url(spec: str) -> bool:
    """True for a model spec that names a server (``http://`` or ``https://``)."""
    return spec.startswith(("http://", "https://"))


class ServerError(Exception):
    """The server answered with an error that retrying will not fix (4xx, or 500: the model failed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the server answered {status}: {message}")
        self.status = status


class RemoteTokenizer:
    """The server's tokenizer, as far as showing tokens needs one: no offsets (callers fall
    back to decoding), ``decode`` (``POST /detokenize``) and ``all_special_ids``."""

    def __init__(self, backend: HTTPBackend, special_ids: list[int], vocab_size: int | None) -> None:
        self._backend = backend
        self.all_special_ids = special_ids
        self._size = vocab_size

    def __len__(self) -> int:
        if self._size is None:
            raise TypeError("the server did not say its vocabulary size")
        return self._size

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a served tokenizer gives no offsets")

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._backend.post("/detokenize", {"tokens": [int(i) for i in ids]}, root=True)["prompt"])


class HTTPBackend:
    """A model behind ``llm-mia serve`` (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 300.0,
        retries: int = 8,
        backoff: float = 0.5,
        api_key_env: str = API_KEY_ENV,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ModelLoadError(f"{url!r} is not a server address; give one like http://127.0.0.1:8000/v1")
        if parts.username or parts.password or parts.query:
            raise ModelLoadError("give the server address without credentials or a query; the API key goes in the environment variable " + api_key_env)
        self.base = url.rstrip("/")
        self.root = f"{parts.scheme}://{parts.netloc}"
        self.timeout, self.retries, self.backoff, self._sleep = timeout, retries, backoff, sleep
        self._key = os.environ.get(api_key_env) or None
        self.requests = 0  # requests answered (for tests and provenance)
        models = self.get("/models").get("data") or []
        card = next((m for m in models if isinstance(m, dict) and isinstance(m.get("llm_mia"), dict)), None)
        if card is None:
            raise ModelLoadError(
                f"{self.base} is not an llm-mia server (its /v1/models has no llm_mia field). Generic OpenAI-compatible servers "
                "are not supported yet: their prompt log-probabilities cannot be checked; serve the model with llm-mia serve"
            )
        info = card["llm_mia"]
        self.spec = url
        self.model_name = str(card.get("id"))
        self.identity = str(info["identity"])
        self.tokenizer_identity = str(info["tokenizer_identity"])
        unknown = set(info["capabilities"]) - set(CAPABILITY_WORDS)
        self.capabilities = frozenset(set(info["capabilities"]) - unknown)
        self.max_positions = info.get("max_positions")
        self.dtype, self.device = str(info.get("dtype", "")), str(info.get("device", ""))
        self.tokenizer = RemoteTokenizer(self, [int(i) for i in info.get("special_ids", [])], info.get("vocab_size"))

    def cache_identity(self) -> dict[str, object]:
        return {"model": self.identity, "tokenizer": self.tokenizer_identity, "dtype": self.dtype, "device": self.device.split(":")[0]}

    def describe(self) -> dict[str, object]:
        """Provenance: the server and the model it serves (never the API key)."""
        return {"server": self.base, "model": self.model_name, "identity": self.identity, "dtype": self.dtype, "device": self.device}

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        """The server's token ids, up to ``MAX_PROMPTS`` texts per request. A text the server's
        tokenizer fails on fails its whole request (the scorer then retries text by text)."""
        out: list[list[int]] = []
        for start in range(0, len(texts), MAX_PROMPTS):
            part = list(texts[start : start + MAX_PROMPTS])
            answer = self.post("/tokenize", {"prompts": part, "add_special_tokens": special_tokens}, root=True)["tokens_list"]
            if len(answer) != len(part):
                raise ServerError(200, f"token ids for {len(answer)} texts where {len(part)} were sent")
            out += [[int(i) for i in ids] for ids in answer]
        return out

    def forward(self, batch: Sequence[tuple[list[int], int]]) -> list[np.ndarray]:
        body = {
            "model": self.model_name,
            "prompt": [list(ids) for ids, _ in batch],
            "echo": True,
            "max_tokens": 0,
            "logprobs": 0,
            "llm_mia": {"score_from": [int(s) for _, s in batch]},
        }
        choices = sorted(self.post("/completions", body)["choices"], key=lambda c: c["index"])
        if len(choices) != len(batch):
            raise ServerError(200, f"{len(choices)} choices for {len(batch)} prompts")
        out = []
        for (ids, start), choice in zip(batch, choices):
            arr = np.asarray(choice["llm_mia"]["stats"], dtype=np.float32).reshape(-1, 4)
            if arr.shape[0] != len(ids) - max(1, start):
                raise ServerError(200, f"statistics for {arr.shape[0]} positions where {len(ids) - max(1, start)} were asked")
            out.append(arr)
        return out

    def free_memory(self) -> None:
        pass

    # -- transport --------------------------------------------------------------------------

    def get(self, path: str) -> dict[str, Any]:
        return self._request("GET", self.base + path, None)

    def post(self, path: str, body: dict[str, Any], root: bool = False) -> dict[str, Any]:
        return self._request("POST", (self.root if root else self.base) + path, json.dumps(body).encode("utf-8"))

    def _request(self, method: str, url: str, data: bytes | None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        problem = ""
        for attempt in range(self.retries + 1):
            wait = self.backoff * 2**attempt
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers, method=method), timeout=self.timeout) as resp:
                    payload = json.loads(resp.read())
                self.requests += 1
                return payload if isinstance(payload, dict) else {}
            except urllib.error.HTTPError as exc:
                message = _error_message(exc)
                if exc.code not in RETRY_STATUSES:
                    if exc.code == 401:
                        raise ModelLoadError(f"{self.root} refused the request (401): set its token in the environment variable named by api_key_env") from None
                    raise ServerError(exc.code, message) from None
                problem = f"{exc.code} {message}"
                wait = max(wait, _retry_after(exc))
            except (urllib.error.URLError, HTTPException, ConnectionError, socket.timeout, TimeoutError, json.JSONDecodeError) as exc:
                problem = _network_problem(exc)
            if attempt < self.retries:
                self._sleep(wait)
        raise BackendUnavailable(
            f"{self.root} did not answer {method} {urlsplit(url).path} after {self.retries + 1} tries (last: {problem}); finished texts are cached, rerun to resume"
        )


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read() or b"{}")
        return str(body.get("error", {}).get("message") or exc.reason)[:500]
    except (ValueError, AttributeError, OSError):
        return str(exc.reason)[:500]


def _retry_after(exc: urllib.error.HTTPError) -> float:
    try:
        return min(float(exc.headers.get("Retry-After") or 0.0), 120.0)
    except ValueError:
        return 0.0


def _network_problem(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason if reason is not None else exc}"[:300]
