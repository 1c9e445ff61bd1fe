"""Scoring backends: what runs a model for the scorer (the interface: :mod:`llm_mia.backends.base`),
how a model spec is resolved and loaded (:mod:`~llm_mia.backends.loading`), and the server that
serves a backend over HTTP (:mod:`~llm_mia.backends.serve`)."""

from __future__ import annotations

from .base import CAPABILITY_WORDS, GRADIENT, GENERATE, LOGPROBS, MOMENTS, TOP1, TOPK, ScoringBackend
from .hf import HFBackend
from .http import REQUEST_TIMEOUT, SERVER_WAIT, HTTPBackend, ServerError, ServerWaitWarning, check_request_timeout, check_server_wait, is_url
from .loading import (
    ALIASES,
    DEFAULT_MODEL,
    SPEC_KINDS,
    SpecKind,
    LoadedModel,
    LoadedTokenizer,
    describe_aliases,
    get_model,
    hf_progress,
    hub_reachable,
    load_model,
    load_tokenizer,
    locate_smollm2,
    resolve_spec,
    tokenizer_identity,
    with_revision,
)
from .mock import BOS, MockBackend
from .memory import available_bytes, cgroup_files, cpu_available_bytes
from .openai import PROBE_TOLERANCE, NotConformant, Plausibility, plausibility
from .protocol import MAX_REQUEST_TOKENS, secret_from_env
from .serve import IDLE_TIMEOUT, MAX_CONNECTIONS, RequestError, ScoringService, make_server

__all__ = [
    "ALIASES",
    "BOS",
    "CAPABILITY_WORDS",
    "DEFAULT_MODEL",
    "GRADIENT",
    "GENERATE",
    "HFBackend",
    "HTTPBackend",
    "IDLE_TIMEOUT",
    "LOGPROBS",
    "LoadedModel",
    "LoadedTokenizer",
    "MAX_CONNECTIONS",
    "MAX_REQUEST_TOKENS",
    "MOMENTS",
    "MockBackend",
    "NotConformant",
    "PROBE_TOLERANCE",
    "Plausibility",
    "REQUEST_TIMEOUT",
    "RequestError",
    "SERVER_WAIT",
    "SPEC_KINDS",
    "ScoringBackend",
    "ScoringService",
    "ServerError",
    "ServerWaitWarning",
    "SpecKind",
    "TOP1",
    "TOPK",
    "available_bytes",
    "cgroup_files",
    "check_request_timeout",
    "check_server_wait",
    "cpu_available_bytes",
    "describe_aliases",
    "get_model",
    "hf_progress",
    "hub_reachable",
    "is_url",
    "load_model",
    "load_tokenizer",
    "locate_smollm2",
    "make_server",
    "plausibility",
    "resolve_spec",
    "secret_from_env",
    "tokenizer_identity",
    "with_revision",
]
