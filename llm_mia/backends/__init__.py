"""Scoring backends: what runs a model for the scorer (the interface: :mod:`llm_mia.backends.base`),
how a model spec is resolved and loaded (:mod:`~llm_mia.backends.loading`), and the server that
serves a backend over HTTP (:mod:`~llm_mia.backends.serve`)."""

from __future__ import annotations

from .base import CAPABILITY_WORDS, GRADIENT, GENERATE, LOGPROBS, MOMENTS, TOP1, TOPK, ScoringBackend
from .hf import HFBackend
from .http import SERVER_WAIT, HTTPBackend, ServerError, ServerWaitWarning, check_server_wait, is_url
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
from .openai import PROBE_TOLERANCE
from .serve import RequestError, ScoringService, make_server

__all__ = [
    "ALIASES",
    "BOS",
    "CAPABILITY_WORDS",
    "DEFAULT_MODEL",
    "GRADIENT",
    "GENERATE",
    "HFBackend",
    "HTTPBackend",
    "LOGPROBS",
    "LoadedModel",
    "LoadedTokenizer",
    "MOMENTS",
    "MockBackend",
    "PROBE_TOLERANCE",
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
    "check_server_wait",
    "describe_aliases",
    "get_model",
    "hf_progress",
    "hub_reachable",
    "is_url",
    "load_model",
    "load_tokenizer",
    "locate_smollm2",
    "make_server",
    "resolve_spec",
    "tokenizer_identity",
    "with_revision",
]
