"""What client (:mod:`~llm_mia.backends.http`) and server (:mod:`~llm_mia.backends.serve`) of
llm-mia's HTTP protocol agree on; neither imports the other."""

from __future__ import annotations

PROTOCOL = "llm-mia/1"
"""The protocol's name and version, which the server reports."""
MAX_PROMPTS = 256
"""Prompts per completions or tokenize request (a client sends one scorer batch per request)."""
MAX_BODY = 64 * 1024 * 1024
"""Bytes a request body may hold."""
