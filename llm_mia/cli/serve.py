"""The ``serve`` command: a model behind llm-mia's HTTP protocol (see :mod:`llm_mia.backends.serve`)."""

from __future__ import annotations

import argparse
import sys

from ..backends import DEFAULT_MODEL, IDLE_TIMEOUT, MAX_CONNECTIONS, MAX_REQUEST_TOKENS
from ..errors import InputError
from .options import POSITIVE, TIMEOUT_SECONDS, add_load_options

TOKEN_ENV = "LLM_MIA_SERVE_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

EXAMPLES_SERVE = f"""examples:
  llm-mia serve --model gemma3-270m --port 8000
  llm-mia score data.jsonl -o s.jsonl --model http://127.0.0.1:8000/v1
  {TOKEN_ENV}=secret llm-mia serve --model ./my-7b --device cuda --host 0.0.0.0 --require-token
  LLM_MIA_API_KEY=secret llm-mia check book.txt --reference new/ --model http://gpu-host:8000/v1
"""


def add_serve_parser(sub: argparse._SubParsersAction) -> None:
    sv = sub.add_parser(
        "serve",
        help="serve a model over HTTP, for score, check and bench on other machines",
        description="Serve MODEL's exact token statistics over an OpenAI-compatible HTTP protocol (/v1/models, /tokenize, "
        "/v1/completions with echo): other machines score with --model http://HOST:PORT/v1, with every detector the model "
        "supports in this process (gradients excepted). Binds to 127.0.0.1 unless --host says otherwise.",
        epilog=EXAMPLES_SERVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sv.add_argument("--model", default=DEFAULT_MODEL, help=f"the model to serve: alias, .gguf file, model folder or hub id (default: {DEFAULT_MODEL})")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    sv.add_argument(
        "--require-token",
        action="store_true",
        help=f"require Authorization: Bearer TOKEN, the token read from ${TOKEN_ENV} (clients set it in $LLM_MIA_API_KEY)",
    )
    sv.add_argument(
        "--max-request-tokens",
        type=POSITIVE,
        default=MAX_REQUEST_TOKENS,
        help=f"the most tokens one request may hold, its prompts together (default {MAX_REQUEST_TOKENS:,}); clients split their batches to fit",
    )
    sv.add_argument(
        "--idle-timeout",
        type=TIMEOUT_SECONDS,
        default=IDLE_TIMEOUT,
        help=f"seconds each read of a request may wait before the connection is closed (default {IDLE_TIMEOUT:g})",
    )
    sv.add_argument(
        "--max-connections", type=POSITIVE, default=MAX_CONNECTIONS, help=f"connections served at once; more are answered 503 (default {MAX_CONNECTIONS})"
    )
    add_load_options(sv)
    sv.add_argument("--quiet", action="store_true", help="no line per request on stderr")
    sv.set_defaults(func=_cmd_serve)


def server_token() -> str | None:
    """The token in ``$LLM_MIA_SERVE_TOKEN``, without the line break a file leaves (see :func:`~llm_mia.backends.secret_from_env`)."""
    from ..backends import secret_from_env

    return secret_from_env(TOKEN_ENV, InputError)


def _cmd_serve(args: argparse.Namespace) -> int:
    from ..backends import ScoringService, is_url, load_model, make_server, with_revision
    from ..scoring import ScorerConfig, as_backend

    token = None
    if args.require_token:
        token = server_token()
        if not token:
            raise InputError(f"--require-token needs the token in the environment variable {TOKEN_ENV}")
    if args.host not in LOOPBACK and token is None:
        print(f"warning: serving on {args.host} without --require-token: anyone who can reach this port can use the model", file=sys.stderr)
    if is_url(args.model):
        raise InputError("serve a model in this process (an alias, a file or a folder), not another server")
    lm = load_model(with_revision(args.model, args.revision), device=args.device, dtype=args.dtype, trust_remote_code=args.trust_remote_code, progress=True)
    service = ScoringService(as_backend(lm, ScorerConfig()), max_request_tokens=args.max_request_tokens)
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        server = make_server(service, args.host, args.port, token=token, log=log, idle_timeout=args.idle_timeout, max_connections=args.max_connections)
    except OSError as exc:
        raise InputError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    port = server.server_address[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving {lm.spec} ({lm.device}, {lm.dtype}) at http://{host}:{port}/v1 - stop with Ctrl-C", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
