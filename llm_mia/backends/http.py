"""A served model over HTTP: the client side of :mod:`llm_mia.backends.serve`'s protocol.

``--model http://HOST:PORT/v1`` (or ``https://``) scores through a server instead of a model
in this process. The server's ``GET /v1/models`` names the model, its weights' and
tokenizer's identities and what it computes exactly (``capabilities``); tokenization follows
the server's tokenizer (``POST /tokenize``); each scorer batch is one ``POST
/v1/completions`` request (``echo``, ``max_tokens: 0``, token-id prompts). The cache is keyed
by the server's model identity, device and dtype, as for a model in this process, so the same
model served or loaded shares its cached statistics.

Networks fail: every request has a timeout, and a refused or dropped connection, a timeout,
or a 429, 502, 503 or 504 answer is retried for ``server_wait`` seconds from its first failure
(default ``SERVER_WAIT``, 120; 0: no retry), with a backoff that doubles from ``backoff``
(at most ``MAX_BACKOFF`` a wait; ``Retry-After`` is honoured) and never waits past the
window's end, where one last try is made; then :class:`~llm_mia.errors.BackendUnavailable`
stops the run (finished batches are cached, so a rerun resumes; the command line exits 4).
The first wait, and each wait of a second or more, is said in a :class:`ServerWaitWarning`:
the address, the request, the last problem, the seconds left and how to stop. A 500 answer is
the model failing on that batch: the scorer splits the batch, as for a model in this process.
A 4xx answer is a bug or a refused setting, and is reported with the server's message.

The API key (if the server needs one) comes from the environment variable named by
``api_key_env`` (default ``LLM_MIA_API_KEY``) and is sent only in the ``Authorization``
header: it never appears in messages, score files, reports or provenance.

A server that speaks llm-mia's extension (``llm-mia serve``) gives every statistic exactly;
any other OpenAI-compatible server (vLLM, SGLang, llama.cpp's server) gives token
log-probabilities and, where it returns top-k for prompt positions, the top-1 column, after
it passes a conformance probe (:mod:`llm_mia.backends.openai`: llama-cpp-python's server
reads prompt log-probabilities one position late and is refused). Such a server batches
across requests, so each scorer batch goes as one request per sequence, all in flight at
once: ``--batch-size`` bounds the requests in flight. Its identity is the served model's name
at that address (a server cannot prove which weights it holds); ``#NAME`` after the address
picks one of several served models.
"""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.client import HTTPException
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import UntrustedServer, BackendUnavailable, ModelLoadError, require
from . import openai
from .base import CAPABILITY_WORDS, GRADIENT, GENERATE, LOGPROBS, TOP1, TOPK
from .protocol import MAX_PROMPTS, secret_from_env

API_KEY_ENV = "LLM_MIA_API_KEY"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
SERVER_WAIT = 120.0
"""Seconds a request that fails is retried, from its first failure, before the run stops (``server_wait``)."""
REQUEST_TIMEOUT = 300.0
"""Seconds one request may wait for the server's answer before it counts as failed (and is
retried within ``server_wait``): a hung server is noticed after this long (``request_timeout``)."""
MAX_BACKOFF = 60.0
"""The longest single wait between tries (the backoff doubles up to it)."""
MIN_WAIT = 0.05
"""Closer than this to the window's end, no further try is made."""


class ServerWaitWarning(UserWarning):
    """llm-mia is waiting for a server that does not answer (each one is shown: none is
    folded into an earlier one with the same text)."""


def _seconds(value: object, default: float, setting: str, zero_ok: bool, problem: str) -> float:
    """``value`` as a number of seconds (``None``: ``default``): finite, and above 0 or (``zero_ok``)
    at least 0; anything else is a :class:`~llm_mia.errors.SettingError` saying ``problem``."""
    if value is None:
        return default
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (value >= 0 if zero_ok else value > 0)
    require(ok, setting, f"{problem}, not {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_server_wait(value: object) -> float:
    """``value`` as the retry window in seconds (``None``: ``SERVER_WAIT``); a negative,
    infinite or non-numeric value is a :class:`~llm_mia.errors.SettingError`."""
    return _seconds(value, SERVER_WAIT, "server_wait", True, "must be a finite number of seconds, 0 or more (0: no retry)")


def check_request_timeout(value: object) -> float:
    """``value`` as one request's timeout in seconds (``None``: ``REQUEST_TIMEOUT``); anything but
    a finite positive number is a :class:`~llm_mia.errors.SettingError`."""
    return _seconds(value, REQUEST_TIMEOUT, "request_timeout", False, "must be a finite number of seconds above 0")


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
        """The text of ``ids``: ``POST /detokenize`` (vLLM answers ``prompt``, llama.cpp
        ``content``), or llama-cpp-python's ``/extras/detokenize`` (``text``)."""
        body = {"model": self._backend.model_name, "tokens": [int(i) for i in ids]}
        for path in openai.DETOKENIZE_PATHS:
            try:
                answer = self._backend.post(path, body, root=True)
            except ServerError as exc:
                if exc.status in (404, 405) and path != openai.DETOKENIZE_PATHS[-1]:
                    continue
                raise
            return str(next((answer[k] for k in ("prompt", "content", "text") if k in answer), ""))
        return ""


class HTTPBackend:
    """A served model: ``llm-mia serve`` or a generic OpenAI-compatible server (see the module
    docstring)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | None = None,
        server_wait: float | None = None,
        retries: int | None = None,
        backoff: float = 0.5,
        api_key_env: str = API_KEY_ENV,
        sleep: Callable[[float], None] = time.sleep,
        concurrency: int = 8,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ModelLoadError(f"{url!r} is not a server address; give one like http://127.0.0.1:8000/v1")
        if parts.username or parts.password or parts.query:
            raise ModelLoadError("give the server address without credentials or a query; the API key goes in the environment variable " + api_key_env)
        self.base = url.split("#")[0].rstrip("/")
        self.root = f"{parts.scheme}://{parts.netloc}"
        self.timeout, self.backoff, self._sleep = check_request_timeout(timeout), backoff, sleep
        self.server_wait = check_server_wait(server_wait)
        self.retries = retries  # a cap on the retries of one request besides the window (None: the window alone)
        self._last_note: tuple[object, float] = (None, -math.inf)  # the request that last said it waits, and when
        self.concurrency = concurrency  # tokenize requests in flight on a generic server
        self._key = secret_from_env(api_key_env, ModelLoadError)
        self.requests = 0  # requests answered (for tests and provenance)
        self._count_lock = threading.Lock()
        self.spec = url
        models = [m for m in self.get("/models").get("data") or [] if isinstance(m, dict)]
        card = next((m for m in models if isinstance(m.get("llm_mia"), dict)), None)
        if card is not None:
            self._init_llm_mia(card)
        else:
            self._init_generic(models, parts.fragment)

    def _init_llm_mia(self, card: dict[str, Any]) -> None:
        info = card["llm_mia"]
        self.protocol = "llm-mia"
        self.model_name = str(card.get("id"))
        self.identity = str(info["identity"])
        self.tokenizer_identity = str(info["tokenizer_identity"])
        unknown = set(info["capabilities"]) - set(CAPABILITY_WORDS)
        self.capabilities = frozenset(set(info["capabilities"]) - unknown - {GRADIENT, GENERATE})  # this client has no method for those
        self.max_positions = info.get("max_positions")
        self.dtype, self.device = str(info.get("dtype", "")), str(info.get("device", ""))
        self.max_request_tokens = info.get("max_request_tokens")  # None: an older server, no bound said
        self.probe: openai.ProbeResult | None = None
        self.tokenizer = RemoteTokenizer(self, [int(i) for i in info.get("special_ids", [])], info.get("vocab_size"))
        self._check_tokenizer()
        limit = min([n for n in (self.max_positions, self.max_request_tokens) if isinstance(n, int) and n > 1], default=None)
        rows = self._forward_llm_mia([(ids[:limit], 1) for ids in self.tokenize(list(openai.PROBE_TEXTS))])
        try:
            self.plausible: openai.Plausibility | None = openai.plausibility(np.concatenate([r[:, 0] for r in rows]).tolist(), [], info.get("vocab_size"))
        except openai.NotConformant as exc:
            raise ModelLoadError(f"{self.base} ({self.model_name}) cannot be trusted for scoring: {exc}") from None

    def _init_generic(self, models: list[dict[str, Any]], wanted: str) -> None:
        """A generic OpenAI-compatible server: pick the model, find its tokenize endpoint, and
        run the conformance probe before trusting its prompt log-probabilities."""
        names = [str(m.get("id")) for m in models]
        if wanted:
            if wanted not in names:
                raise ModelLoadError(f"{self.base} does not serve {wanted!r}; it serves: {', '.join(names) or 'nothing'}")
            chosen = models[names.index(wanted)]
        elif len(models) == 1:
            chosen = models[0]
        else:
            raise ModelLoadError(f"{self.base} serves {len(models)} models ({', '.join(names) or 'none listed'}); name one after the address: {self.base}#NAME")
        self.protocol = "openai"
        self.model_name = str(chosen.get("id"))
        self.identity = f"{self.model_name} served at {self.root}"
        self.tokenizer_identity = self.identity
        limit = chosen.get("max_model_len")  # vLLM's; llama.cpp's n_ctx_train is not the server's context
        self.max_positions = int(limit) - 1 if isinstance(limit, int) and limit > 1 else None  # each request also asks for 1 token
        self.dtype, self.device = "served", "server"
        self._tokenize_path: str | None = None
        self.text_prompts = False  # True: the server takes no token-id prompts (llama-cpp-python)
        self.tokenizer = RemoteTokenizer(self, [], None)
        self.plausible = None
        first = self._tokenize_one(openai.PROBE_TEXTS[0], True)
        try:
            self.post("/completions", openai.completion_body(self.model_name, first, echo=True, logprobs=0))
        except ServerError as exc:
            if exc.status not in (400, 422, 500):
                raise ModelLoadError(f"{self.base} ({self.model_name}) refused a prompt: {exc}") from None
            self.text_prompts = True  # each text's round trip through the server's tokenizer is checked
        try:
            self.probe = openai.probe(self._complete, self._tokenize_one, self.model_name)
        except openai.NotConformant as exc:
            raise ModelLoadError(f"{self.base} ({self.model_name}) cannot be trusted for scoring: {exc}") from None
        except ServerError as exc:
            raise ModelLoadError(f"{self.base} ({self.model_name}) refused the conformance probe's requests: {exc}") from None
        self.plausible = self.probe.plausible
        top_ok = self.probe.max_top_diff is not None and self.probe.max_top_diff <= openai.PROBE_TOLERANCE
        self.capabilities = frozenset({LOGPROBS} | ({TOP1} if top_ok else set()))
        self._check_tokenizer()

    def _check_tokenizer(self) -> None:
        """Refuse a server whose tokenizer gives one text's ids for another, or ids that do not
        decode back to their text (:func:`~llm_mia.backends.openai.tokenizer_problem`)."""
        texts = list(openai.PROBE_TEXTS)
        try:
            problem = openai.tokenizer_problem(texts, self.tokenize(texts, special_tokens=False), self.tokenizer.decode)
        except ServerError as exc:
            raise ModelLoadError(f"{self.base} ({self.model_name}) refused the tokenizer check's requests: {exc}") from None
        if problem:
            raise ModelLoadError(f"{self.base} ({self.model_name}) cannot be trusted for scoring: {problem}")

    def cache_identity(self) -> dict[str, object]:
        return {"model": self.identity, "tokenizer": self.tokenizer_identity, "dtype": self.dtype, "device": self.device.split(":")[0]}

    def describe(self) -> dict[str, object]:
        """Provenance: the server, its protocol and the model it serves (never the API key);
        for a generic server, what the conformance probe measured; for ``llm-mia serve``, the
        probe sentences' plausibility figures."""
        out: dict[str, object] = {"server": self.base, "protocol": self.protocol, "model": self.model_name, "identity": self.identity}
        out.update({"dtype": self.dtype, "device": self.device})
        if self.probe is not None:
            out["conformance_probe"] = self.probe.as_dict()
            out["prompts"] = "text, round trip checked" if self.text_prompts else "token ids"
        elif self.plausible is not None:
            out["plausibility"] = self.plausible.as_dict()
        return out

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        """The server's token ids. ``llm-mia serve`` takes up to ``MAX_PROMPTS`` texts per
        request; a generic server one text per request, ``concurrency`` in flight. A text the
        server's tokenizer fails on fails its request (the scorer then retries text by text)."""
        if self.protocol == "openai":
            return self._in_flight([partial(self._tokenize_one, t, special_tokens) for t in texts], self.concurrency)
        out: list[list[int]] = []
        for start in range(0, len(texts), MAX_PROMPTS):
            part = list(texts[start : start + MAX_PROMPTS])
            answer = self.post("/tokenize", {"prompts": part, "add_special_tokens": special_tokens}, root=True)["tokens_list"]
            if len(answer) != len(part):
                raise ServerError(200, f"token ids for {len(answer)} texts where {len(part)} were sent")
            out += [[int(i) for i in ids] for ids in answer]
        return out

    def _tokenize_one(self, text: str, special: bool) -> list[int]:
        """One text through the generic server's tokenize endpoint (the first dialect that
        answers is kept)."""
        for path, body in openai.TOKENIZE_DIALECTS:
            if self._tokenize_path not in (None, path):
                continue
            try:
                tokens = self.post(path, body(text, special, self.model_name), root=True).get("tokens")
            except ServerError as exc:
                if exc.status in (404, 405) and self._tokenize_path is None:
                    continue
                raise
            if not isinstance(tokens, list) or not all(isinstance(i, int) for i in tokens):
                raise ServerError(200, f"{path} answered without a list of token ids")
            self._tokenize_path = path
            return [int(i) for i in tokens]
        raise ModelLoadError(
            f"{self.root} has no tokenize endpoint (tried {', '.join(p for p, _ in openai.TOKENIZE_DIALECTS)}); llm-mia needs the server's own token ids"
        )

    def forward(self, batch: Sequence[tuple[list[int], int]]) -> list[np.ndarray]:
        if self.protocol == "openai":
            return self._in_flight([partial(self._forward_generic, ids, s) for ids, s in batch], len(batch))
        return self._forward_llm_mia(batch)

    def forward_topk(self, batch: Sequence[tuple[list[int], int]], k: int) -> list[np.ndarray]:
        """``[log_mass, inside]`` of top-k sampling per position, computed by an llm-mia server
        whose model has the exact ``topk`` capability (only that protocol offers it)."""
        if TOPK not in self.capabilities:
            raise ServerError(200, f"{self.root} does not offer exact top-k probabilities")
        return self._forward_llm_mia(batch, k)

    def _forward_llm_mia(self, batch: Sequence[tuple[list[int], int]], topk: int | None = None) -> list[np.ndarray]:
        """The batch in requests of at most the server's ``max_request_tokens`` tokens each (a
        prompt longer than that goes alone, and the server refuses it)."""
        limit = self.max_request_tokens if isinstance(self.max_request_tokens, int) else None
        parts: list[list[tuple[list[int], int]]] = [[]]
        used = 0
        for item in batch:
            if parts[-1] and limit is not None and used + len(item[0]) > limit:
                parts.append([])
                used = 0
            parts[-1].append(item)
            used += len(item[0])
        return [arr for part in parts for arr in self._request_llm_mia(part, topk)]

    def _request_llm_mia(self, batch: Sequence[tuple[list[int], int]], topk: int | None = None) -> list[np.ndarray]:
        extra: dict[str, Any] = {"score_from": [int(s) for _, s in batch]}
        if topk is not None:
            extra["topk"] = int(topk)
        body = {"model": self.model_name, "prompt": [list(ids) for ids, _ in batch], "echo": True, "max_tokens": 0, "logprobs": 0, "llm_mia": extra}
        answer = self.post("/completions", body)
        self._check_served(answer.get("llm_mia"))
        choices = sorted(answer["choices"], key=lambda c: c["index"])
        if len(choices) != len(batch):
            raise ServerError(200, f"{len(choices)} choices for {len(batch)} prompts")
        field, width = ("stats", 4) if topk is None else ("topk", 2)
        out = []
        for (ids, start), choice in zip(batch, choices):
            arr = np.asarray(choice["llm_mia"][field], dtype=np.float32).reshape(-1, width)
            if arr.shape[0] != len(ids) - max(1, start):
                raise ServerError(200, f"statistics for {arr.shape[0]} positions where {len(ids) - max(1, start)} were asked")
            if topk is None:
                check_stats(arr, ids, max(1, start))
            out.append(arr)
        return out

    def _check_served(self, served: object) -> None:
        """Each answer of ``llm-mia serve`` repeats what it was computed with; a change (a server
        restarted with other weights, dtype or device) stops the run before any of it is kept."""
        now = {"identity": self.identity, "tokenizer_identity": self.tokenizer_identity, "dtype": self.dtype, "device": self.device}
        if not isinstance(served, dict):
            raise UntrustedServer(f"{self.root} does not say what it computed this answer with (an llm-mia serve older than this client): upgrade it")
        if any(str(served.get(k)) != v for k, v in now.items()):
            then = ", ".join(f"{now[k]}" for k in ("identity", "dtype", "device"))
            later = ", ".join(f"{served.get(k)}" for k in ("identity", "dtype", "device"))
            raise UntrustedServer(
                f"{self.root} now serves {later}, not {then} as when this run began (restarted with other settings?); "
                "nothing of this answer is kept: rerun against one server (finished texts are cached under the first one's key)"
            )

    def _forward_generic(self, ids: list[int], score_from: int) -> np.ndarray:
        logprobs = 1 if TOP1 in self.capabilities else 0
        choice = self._complete(openai.completion_body(self.model_name, ids, echo=True, logprobs=logprobs))["choices"][0]
        try:
            rows = openai.echoed_rows(choice, ids, score_from)
        except ValueError as exc:
            raise ServerError(200, str(exc)) from None
        if TOP1 not in self.capabilities:
            rows[:, 3] = np.nan  # a server may return top_logprobs unasked (the token itself): not the top-1
        check_stats(rows, ids, max(1, score_from))
        return rows

    def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /completions`` of one token-id prompt; for a server that takes only text, the
        prompt goes as the text of its ids, once the server's tokenizer is seen to give those ids
        back (else :class:`~llm_mia.backends.openai.NotRoundTrip`: that text cannot be scored exactly)."""
        if self.text_prompts:
            ids = body["prompt"]
            text = self.tokenizer.decode(ids)
            if self._tokenize_one(text, True) != ids:
                raise openai.NotRoundTrip("the server takes only text prompts, and this text's tokens do not survive a round trip through its tokenizer")
            body = {**body, "prompt": text}
        return self.post("/completions", body)

    @staticmethod
    def _in_flight(calls: list[Callable[[], Any]], limit: int) -> list[Any]:
        """Run ``calls`` with at most ``limit`` at once; results in order; the first failure
        is raised once every call has ended."""
        if len(calls) <= 1 or limit <= 1:
            return [call() for call in calls]
        with ThreadPoolExecutor(max_workers=min(limit, len(calls))) as pool:
            futures = [pool.submit(call) for call in calls]
            return [f.result() for f in futures]

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
        problem, tries, slept, first_failure, timed_out = "", 0, 0.0, 0.0, False
        request = object()  # this request, for the waiting notes of requests in flight together
        while True:
            tries += 1
            backoff = min(self.backoff * 2 ** min(tries - 1, 30), MAX_BACKOFF)
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers, method=method), timeout=self.timeout) as resp:
                    payload = json.loads(resp.read())
                with self._count_lock:
                    self.requests += 1
                return payload if isinstance(payload, dict) else {}
            except urllib.error.HTTPError as exc:
                message = _error_message(exc)
                if exc.code not in RETRY_STATUSES:
                    if exc.code == 401:
                        raise ModelLoadError(f"{self.root} refused the request (401): set its token in the environment variable named by api_key_env") from None
                    raise ServerError(exc.code, message) from None
                problem, timed_out = f"{exc.code} {message}", False
                backoff = max(backoff, _retry_after(exc))
            except (urllib.error.URLError, HTTPException, ConnectionError, socket.timeout, TimeoutError, json.JSONDecodeError) as exc:
                timed_out = isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)
                problem = f"no answer within {_secs(self.timeout)}" if timed_out else _network_problem(exc)
            if tries == 1:
                first_failure = time.monotonic()
            waited = max(slept, time.monotonic() - first_failure)  # at least the sleeps (an injected sleep may not sleep)
            left = self.server_wait - waited
            if left < MIN_WAIT or (self.retries is not None and tries > self.retries):
                break
            wait = min(backoff, left)  # never past the window's end: the last try is at its end
            if tries == 1 or wait >= 1.0:
                self._note_waiting(
                    request,
                    f"{self.root} is not answering {method} {urlsplit(url).path} ({problem}); trying again in {_secs(wait)}, "
                    f"for up to {_secs(left)} more. Ctrl-C stops: finished texts are cached, and the same command resumes",
                )
            self._sleep(wait)
            slept += wait
        took = "1 try" if tries == 1 else f"{tries} tries in {_secs(max(slept, time.monotonic() - first_failure))}"
        longer = f"; one request may take {{request_timeout}} (it had {_secs(self.timeout)})" if timed_out else ""
        raise BackendUnavailable(
            f"{self.root} did not answer {method} {urlsplit(url).path} after {took} (last: {problem}); finished texts are cached, rerun to resume; "
            f"give the server longer with {{server_wait}} (it had {_secs(self.server_wait)}){longer}"
        )

    def _note_waiting(self, request: object, message: str) -> None:
        """Say that a request waits for the server: a :class:`ServerWaitWarning`, each one shown;
        of requests in flight together, one a second."""
        now = time.monotonic()
        with self._count_lock:
            last, at = self._last_note
            if last is not request and now - at < 1.0:
                return
            self._last_note = (request, now)
        # no registry: a note with the text of an earlier one (the next outage) is shown again
        warnings.warn_explicit(message, ServerWaitWarning, __file__, sys._getframe().f_lineno, module=__name__, registry=None)


STAT_TOLERANCE = 1e-4
"""Rounding allowed past a statistic's bound (a log-probability of a certain token may round to +1e-7)."""


def check_stats(arr: np.ndarray, ids: Sequence[int], first: int) -> None:
    """Raise :class:`~llm_mia.errors.UntrustedServer` for statistics no model can give:
    ``[lp, mu, var, top]`` rows with a log-probability that is NaN, infinite or above 0, a mean
    log-probability above 0 or infinite, a variance below 0, or a top-1 log-probability below
    the token's own (NaN stands for a statistic the server does not give, except in ``lp``)."""
    lp, mu, var, top = (arr[:, c].astype(np.float64) for c in range(4))
    with np.errstate(invalid="ignore"):  # comparisons with NaN or inf are the point
        checks = (
            ("log-probability", lp, ~np.isfinite(lp) | (lp > STAT_TOLERANCE), "above 0"),
            ("mean log-probability", mu, np.isinf(mu) | (mu > STAT_TOLERANCE), "above 0"),
            ("variance", var, np.isinf(var) | (var < -STAT_TOLERANCE), "below 0"),
            ("top-1 log-probability", top, np.isinf(top) | (top > STAT_TOLERANCE), "above 0"),
            ("top-1 log-probability", top, top < lp - 1e-3 - STAT_TOLERANCE * np.abs(lp), "below the token's own"),
        )
    for name, values, bad, bound in checks:
        if bad.any():
            row = int(np.argmax(bad))
            v = float(values[row])
            shown = "NaN" if math.isnan(v) else f"{v:g}" + ("" if math.isinf(v) else f" {bound}")
            raise UntrustedServer(
                f"the server sent a {name} {shown} (position {first + row} of a prompt of {len(ids)} tokens), which no model gives; "
                "it is refused and nothing it sent is kept (a model whose weights did not load, a broken kernel, or half precision overflowing)"
            )


def _secs(seconds: float) -> str:
    """``0.5 s``, ``3 s``, ``119 s``."""
    text = f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"
    return (text[:-2] if text.endswith(".0") else text) + " s"


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
