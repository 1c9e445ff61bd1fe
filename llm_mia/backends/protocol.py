"""What client (:mod:`~llm_mia.backends.http`) and server (:mod:`~llm_mia.backends.serve`) of
llm-mia's HTTP protocol agree on; neither imports the other."""

from __future__ import annotations

import os

PROTOCOL = "llm-mia/1"
"""The protocol's name and version, which the server reports."""
MAX_PROMPTS = 256
"""Prompts per completions or tokenize request (a client sends one scorer batch per request)."""
MAX_BODY = 64 * 1024 * 1024
"""Bytes a request body may hold."""
MAX_REQUEST_TOKENS = 65_536
"""Tokens (summed over its prompts) one completions request may hold, unless the server is
started with another bound: the work one request does under the model's lock. The model card
says the server's own; the client splits its batches to fit."""


def secret_from_env(name: str, error: type[Exception]) -> str | None:
    """The API key or token in environment variable ``name`` (None when unset or blank), without
    the whitespace around it (a key read from a file or a Kubernetes secret ends in a line
    break, which no HTTP header may carry). A control or non-ASCII character inside it raises
    ``error`` with a message that never shows the key."""
    value = (os.environ.get(name) or "").strip()
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise error(f"{name} holds a line break or another control character inside the key; write the key alone on one line")
    if not value.isascii():
        raise error(f"{name} holds a character outside ASCII, which an HTTP header cannot carry; use a key of ASCII letters, digits and punctuation")
    return value or None
