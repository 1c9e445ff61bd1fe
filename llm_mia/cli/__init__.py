"""The ``llm-mia`` command line (``llm_mia.cli:main``; ``python -m llm_mia.cli``)."""

from __future__ import annotations

from .app import build_parser, main
from .options import FLAGS, run_options

__all__ = ["FLAGS", "build_parser", "main", "run_options"]
