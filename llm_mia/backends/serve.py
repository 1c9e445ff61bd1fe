"""``llm-mia serve``: a scoring backend behind an OpenAI-compatible HTTP protocol, so that a
GPU host serves and other machines run ``score``, ``check`` and ``bench`` against it with
``--model http://HOST:PORT/v1`` (:class:`llm_mia.backends.http.HTTPBackend`).

Endpoints (JSON; the subset of the OpenAI and vLLM APIs that scoring needs):

- ``GET /v1/models``: the one served model, with an ``llm_mia`` field: ``protocol``,
  ``identity``, ``tokenizer_identity``, ``capabilities``, ``max_positions``, ``dtype``,
  ``device``, ``special_ids``.
- ``POST /tokenize`` ``{"prompt": str, "add_special_tokens": bool}`` -> ``{"tokens": [...],
  "count": n}`` and ``POST /detokenize`` ``{"tokens": [...]}`` -> ``{"prompt": str}`` (as vLLM);
  ``{"prompts": [str, ...]}`` -> ``{"tokens_list": [[...], ...]}`` tokenizes a batch at once.
- ``POST /v1/completions`` with ``echo: true``, ``max_tokens: 0`` and ``logprobs: 0``:
  prompt scoring only. ``prompt`` is a token-id list or a list of them (one choice each,
  scored in one batch). Each choice has the OpenAI ``logprobs`` (``tokens``,
  ``token_logprobs``; the first position and positions before ``score_from`` are null) and
  an ``llm_mia`` field ``{"score_from": k, "stats": [[lp, mu, var, top], ...]}`` with the
  backend's exact statistics for the positions from ``max(1, k)`` (see
  :mod:`llm_mia.backends.base`); ``llm_mia: {"score_from": [k, ...]}`` in the request says
  where each prompt's scored part starts (its context is not scored).

Float32 statistics travel as JSON numbers (written as Python floats, so exactly). The server
runs one batch at a time (a lock), binds to 127.0.0.1 unless told otherwise, and with a
token requires ``Authorization: Bearer TOKEN`` on every request.
"""

from __future__ import annotations

import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from .base import GRADIENT, GENERATE, TOPK, ScoringBackend
from .protocol import MAX_BODY, MAX_PROMPTS, MAX_REQUEST_TOKENS, PROTOCOL

Routes = dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]]
"""(method, path) -> handler of the request body, returning the response body."""


SERVED_KEYS = ("identity", "tokenizer_identity", "dtype", "device")
"""The model card's fields that every completion repeats."""


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a message for the client."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def public_name(spec: str) -> str:
    """The name the server shows any client for the model ``spec``: a local file's or folder's
    own name, never the server's path to it; other specs (aliases, hub ids) as they are."""
    path = Path(spec).expanduser()
    return path.name if path.name and path.exists() else spec


def model_card(backend: ScoringBackend, device: str, dtype: str) -> dict[str, Any]:
    """What ``GET /v1/models`` says of the served model."""
    tok = getattr(backend, "tokenizer", None)
    return {
        "id": public_name(str(backend.spec)),
        "object": "model",
        "owned_by": "llm-mia",
        "llm_mia": {
            "protocol": PROTOCOL,
            "identity": backend.identity,
            "tokenizer_identity": backend.tokenizer_identity,
            "capabilities": sorted(backend.capabilities - {GRADIENT, GENERATE}),  # no gradients or generation over HTTP (yet)
            "max_positions": backend.max_positions,
            "dtype": dtype,
            "device": device,
            "special_ids": sorted(int(i) for i in getattr(tok, "all_special_ids", []) or []),
            "vocab_size": len(tok) if tok is not None else None,
        },
    }


class ScoringService:
    """The protocol without the transport: each method takes a request body and returns the
    response body, or raises :class:`RequestError`."""

    def __init__(self, backend: ScoringBackend, *, max_request_tokens: int = MAX_REQUEST_TOKENS) -> None:
        """``max_request_tokens``: the most tokens one completions request may hold (its prompts
        together); more is refused with 413 (the client splits its batches to fit)."""
        self.backend = backend
        identity = backend.cache_identity()
        self.card = model_card(backend, str(identity.get("device", "")), str(identity.get("dtype", "")))
        self.max_request_tokens = max_request_tokens
        self.card["llm_mia"]["max_request_tokens"] = max_request_tokens
        self.lock = threading.Lock()
        self._count = 0
        self.vocab_size: int | None = self.card["llm_mia"]["vocab_size"]

    def _check_vocabulary(self, prompts: list[list[int]]) -> None:
        """A token id the tokenizer never gives is refused before it reaches the model (on a GPU
        an id past the embedding is a device assert that breaks the server until restart)."""
        if self.vocab_size is None:
            return
        bad = next((i for ids in prompts for i in ids if i >= self.vocab_size), None)
        if bad is not None:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"token id {bad} is outside the vocabulary (0 to {self.vocab_size - 1})")

    def served(self) -> dict[str, Any]:
        """What every completion says it was computed with, so that a client notices a server
        restarted with other weights or settings mid-run."""
        card = self.card["llm_mia"]
        return {k: card[k] for k in SERVED_KEYS}

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [self.card]}

    def routes(self) -> Routes:
        return {
            ("GET", "/v1/models"): lambda _: self.models(),
            ("POST", "/tokenize"): self.tokenize,
            ("POST", "/detokenize"): self.detokenize,
            ("POST", "/v1/completions"): self.completions,
        }

    def tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        """vLLM's ``{"prompt": text}``, or llm-mia's ``{"prompts": [text, ...]}`` (one round
        trip for a batch; answered with ``tokens_list``)."""
        many = body.get("prompts")
        texts = many if many is not None else [body.get("prompt")]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts) or len(texts) > MAX_PROMPTS:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"tokenize takes a string 'prompt', or 'prompts', a list of at most {MAX_PROMPTS} strings")
        special = body.get("add_special_tokens", True)
        if not isinstance(special, bool):
            raise RequestError(HTTPStatus.BAD_REQUEST, "'add_special_tokens' must be true or false")
        try:
            with self.lock:
                ids_list = self.backend.tokenize(texts, special)
        except Exception as exc:  # noqa: BLE001  (the tokenizer's own failure: the client retries text by text)
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the tokenizer failed ({type(exc).__name__}: {str(exc)[:200]})") from None
        if many is not None:
            return {"tokens_list": [[int(i) for i in ids] for ids in ids_list], "max_model_len": self.backend.max_positions}
        return {"tokens": [int(i) for i in ids_list[0]], "count": len(ids_list[0]), "max_model_len": self.backend.max_positions}

    def detokenize(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("tokens")
        if not _is_ids(ids):
            raise RequestError(HTTPStatus.BAD_REQUEST, "detokenize takes 'tokens', a list of token ids")
        self._check_vocabulary([cast("list[int]", ids)])  # _is_ids checked it
        with self.lock:
            return {"prompt": self.backend.tokenizer.decode(ids)}

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        if model is not None and model != self.card["id"]:
            raise RequestError(HTTPStatus.NOT_FOUND, f"this server serves {self.card['id']!r}, not {model!r}")
        if body.get("echo") is not True or body.get("max_tokens", 16) != 0:
            raise RequestError(HTTPStatus.BAD_REQUEST, "this server scores prompts only: send echo: true and max_tokens: 0")
        if body.get("logprobs") not in (0, None) and body.get("logprobs") is not False:
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                "top-k log-probabilities are not offered (send logprobs: 0); the exact top-1 log-probability and the moments are in each choice's llm_mia field",
            )
        prompts = body.get("prompt")
        if _is_ids(prompts):
            prompts = [prompts]
        if not isinstance(prompts, list) or not prompts or not all(_is_ids(p) and len(p) >= 2 for p in prompts):
            raise RequestError(
                HTTPStatus.BAD_REQUEST, "'prompt' must be a list of at least 2 token ids, or a list of such lists (tokenize first: POST /tokenize)"
            )
        if len(prompts) > MAX_PROMPTS:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"at most {MAX_PROMPTS} prompts per request; got {len(prompts)}")
        total = sum(len(p) for p in prompts)
        if total > self.max_request_tokens:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"{total} tokens in one request, more than this server takes at once ({self.max_request_tokens}); send fewer or shorter prompts",
            )
        limit = self.backend.max_positions
        if limit is not None and max(len(p) for p in prompts) > limit:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"a prompt of {max(len(p) for p in prompts)} tokens exceeds the model's context length ({limit})")
        self._check_vocabulary(prompts)
        extra = body.get("llm_mia") or {}
        if not isinstance(extra, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, "llm_mia must be an object (score_from, topk)")
        topk = extra.get("topk")
        if topk is not None and (not isinstance(topk, int) or isinstance(topk, bool) or topk < 1):
            raise RequestError(HTTPStatus.BAD_REQUEST, "llm_mia.topk must be a positive whole number")
        if topk is not None and TOPK not in self.backend.capabilities:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the served model cannot give exact top-k probabilities ({TOPK!r} capability)")
        starts = extra.get("score_from", 1)
        starts = [starts] * len(prompts) if isinstance(starts, int) else starts
        if not (
            isinstance(starts, list)
            and len(starts) == len(prompts)
            and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < len(p) for s, p in zip(starts, prompts))
        ):
            raise RequestError(HTTPStatus.BAD_REQUEST, "llm_mia.score_from must be a position inside each prompt (one number, or one per prompt)")
        with self.lock:
            batch = [(list(p), s) for p, s in zip(prompts, starts)]
            stats = self.backend.forward_topk(batch, topk) if topk is not None else self.backend.forward(batch)  # type: ignore[attr-defined]
            names = _token_names(self.backend.tokenizer, prompts)
            self._count += 1
        choices = []
        for i, (s, arr) in enumerate(zip(starts, stats)):
            first = max(1, s)
            lps: list[float | None] = [None] * len(prompts[i]) if topk is not None else [None] * first + [float(v) for v in arr[:, 0]]
            choices.append(
                {
                    "index": i,
                    "text": "",
                    "finish_reason": "length",
                    "logprobs": {"tokens": names[i], "token_logprobs": lps, "top_logprobs": None},
                    "llm_mia": {"score_from": first, ("topk" if topk is not None else "stats"): [[float(v) for v in row] for row in arr]},
                }
            )
        n = sum(len(p) for p in prompts)
        return {
            "id": f"cmpl-llm-mia-{self._count}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.card["id"],
            "llm_mia": self.served(),
            "choices": choices,
            "usage": {"prompt_tokens": n, "completion_tokens": 0, "total_tokens": n},
        }


def _is_ids(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value)


def _token_names(tokenizer: Any, prompts: list[list[int]]) -> list[list[str]]:
    """Each prompt's tokens as strings (the tokenizer's own names where it has them)."""
    convert = getattr(tokenizer, "convert_ids_to_tokens", None)
    if convert is not None:
        return [[str(t) for t in convert(p)] for p in prompts]
    return [[tokenizer.decode([i]) for i in p] for p in prompts]


IDLE_TIMEOUT = 30.0
"""Seconds the server waits for each read of a request (its headers, its body, the next request
on a kept-alive connection) before it closes the connection."""
MAX_CONNECTIONS = 64
"""Connections served at once; one more is answered 503 and closed."""
LENGTH = re.compile(r"[0-9]{1,18}")


def make_server(
    service: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    log: Callable[[str], None] | None = None,
    *,
    idle_timeout: float = IDLE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> ThreadingHTTPServer:
    """An HTTP server of ``service`` (anything with ``routes() -> Routes``, such as a
    :class:`ScoringService`; call ``serve_forever``; ``port`` 0 picks a free one).
    ``token``: every request must carry ``Authorization: Bearer TOKEN``. ``log`` gets one
    line per request (method, path, status; never a header).

    Hostile clients: a request body needs a ``Content-Length`` that is a non-negative whole
    number at most ``MAX_BODY`` (no chunked bodies: 411); a request answered before its body was
    read (an error: 400, 401, 404, 411, 413) closes the connection, so that no unread body is
    ever parsed as a further request; each read waits at most ``idle_timeout`` seconds; and at
    most ``max_connections`` connections are served at once (one more gets 503)."""
    routes = service.routes()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = idle_timeout  # every read of the socket (StreamRequestHandler sets it)

        def do_GET(self) -> None:  # noqa: N802 (http.server's names)
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

        def _handle(self, method: str) -> None:
            keep_alive = not self.close_connection  # as the request line and headers asked
            self.close_connection = True  # until the request, body and all, has been read
            try:
                size = self._body_size()
                sent = self.headers.get("Authorization", "").encode("latin-1", "replace")  # http.server decodes headers as latin-1
                if token is not None and not hmac.compare_digest(sent, f"Bearer {token}".encode()):
                    raise RequestError(HTTPStatus.UNAUTHORIZED, "this server needs Authorization: Bearer <token>")
                route = routes.get((method, self.path.split("?")[0].rstrip("/")))
                if route is None:
                    raise RequestError(HTTPStatus.NOT_FOUND, f"no such endpoint: {method} {self.path}")
                raw = self.rfile.read(size) if size else b""
                if len(raw) < size:
                    raise RequestError(HTTPStatus.BAD_REQUEST, f"the request body ended after {len(raw)} of {size} bytes")
                self.close_connection = not keep_alive
                body: dict[str, Any] = {}
                if method == "POST":
                    try:
                        body = json.loads(raw or b"{}")
                    except (ValueError, UnicodeDecodeError):
                        raise RequestError(HTTPStatus.BAD_REQUEST, "the request body is not JSON") from None
                    if not isinstance(body, dict):
                        raise RequestError(HTTPStatus.BAD_REQUEST, "the request body must be a JSON object")
                self._send(HTTPStatus.OK, route(body))
            except RequestError as exc:
                self._send(exc.status, {"error": {"message": str(exc), "type": "invalid_request_error", "code": int(exc.status)}})
            except Exception as exc:  # noqa: BLE001  (the model failed: the client splits the batch)
                self._send(
                    HTTPStatus.INTERNAL_SERVER_ERROR, {"error": {"message": f"{type(exc).__name__}: {str(exc)[:300]}", "type": "server_error", "code": 500}}
                )

        def _body_size(self) -> int:
            """The body's length from its one ``Content-Length`` (0 without one), or the error that refuses it."""
            if self.headers.get("Transfer-Encoding") is not None:
                raise RequestError(HTTPStatus.LENGTH_REQUIRED, "send the request body with a Content-Length, not a Transfer-Encoding")
            values = self.headers.get_all("Content-Length") or []
            if not values:
                return 0
            if len(set(values)) > 1 or not LENGTH.fullmatch(values[0].strip()):
                raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length must be one non-negative whole number, not {', '.join(values)[:40]!r}")
            size = int(values[0])
            if size > MAX_BODY:
                raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a request body of {size} bytes is over the limit ({MAX_BODY})")
            return size

        def _send(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
            if log is not None:
                log(f"{self.address_string()} {format % args}")

    busy = json.dumps(
        {"error": {"message": f"the server is at its limit of {max_connections} connections; retry", "type": "server_error", "code": 503}}
    ).encode()
    full = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
    full += f"Content-Length: {len(busy)}\r\n\r\n".encode() + busy
    slots = threading.BoundedSemaphore(max_connections)

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        daemon_threads = True

        def process_request(self, request: Any, client_address: Any) -> None:
            if not slots.acquire(blocking=False):
                try:
                    request.settimeout(1.0)
                    request.sendall(full)
                except OSError:
                    pass
                self.shutdown_request(request)
                return
            try:
                super().process_request(request, client_address)
            except BaseException:
                slots.release()
                raise

        def process_request_thread(self, request: Any, client_address: Any) -> None:
            try:
                super().process_request_thread(request, client_address)
            finally:
                slots.release()

    return Server((host, port), Handler)
