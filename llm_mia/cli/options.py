"""Pieces shared by the command-line modules: option types, the scorer settings, detector lists."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import cast

from ..backends import DEFAULT_MODEL, REQUEST_TIMEOUT, SERVER_WAIT, check_request_timeout, check_server_wait, with_revision
from ..detectors import DEFAULT_K, default_detector_names
from ..errors import LlmMiaError, SettingError
from ..pipeline import RunOptions, detector_specs
from ..scoring import ScorerConfig

DEFAULTS = ScorerConfig()


def detectors_help(defaults: Sequence[str] | None = None) -> str:
    """The help of ``--detectors``, naming the command's default set (default: :func:`default_detector_names`)."""
    names = default_detector_names() if defaults is None else defaults
    return (
        "comma-separated detectors, each a name or name:param=value[:param=value] (e.g. loss,min_k:k=0.1,min_k:k=0.3; "
        "see llm-mia detectors), or a set, alone or in a list (default,gap_k): "
        f"default = {', '.join(names)} (the default; a --reference-model adds ref), "
        "all = every detector the run can use (the others are named with why in a warning)"
    )


def _count(minimum: int):  # type: ignore[no-untyped-def]
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {number}")
        return number

    return parse


SEED = _count(0)
POSITIVE = _count(1)


def _seconds(check: Callable[[object], float], expected: str):  # type: ignore[no-untyped-def]
    """An argparse type: a number of seconds that ``check`` accepts (it raises otherwise),
    refused as "expected a number of seconds, ``expected``"."""

    def parse(value: str) -> float:
        try:
            return check(float(value))
        except (ValueError, LlmMiaError):
            raise argparse.ArgumentTypeError(f"expected a number of seconds, {expected}, not {value!r}") from None

    return parse


WAIT_SECONDS = _seconds(check_server_wait, "0 or more (0: no retry)")
TIMEOUT_SECONDS = _seconds(check_request_timeout, "finite and above 0")


def _names(value: str | None) -> list[str] | None:
    """``--detectors`` as a list of specs, split as the library splits one string
    (:func:`llm_mia.pipeline.detector_specs`; None when not given; an error when it names
    nothing, such as ``--detectors ,``)."""
    try:
        return cast("list[str] | None", detector_specs(value))
    except SettingError as exc:
        raise LlmMiaError(exc.message({"detectors": "--detectors"})) from None


def _scorer_config(args: argparse.Namespace) -> ScorerConfig:
    """The scorer settings of score, bench and check."""
    return ScorerConfig(max_tokens=args.max_tokens, stride=args.stride, batch_size=args.batch_size)


FLAGS = {
    "max_tokens": "--max-tokens",
    "stride": "--stride",
    "batch_size": "--batch-size",
    "unit": "--unit",
    "excerpt_words": "--excerpt-words",
    "alpha": "--alpha",
    "n_splits": "--splits",
    "n_permutations": "--permutations",
    "seed": "--seed",
    "limit": "--limit",
    "n_bootstrap": "--bootstrap",
    "n_members_per_exposure": "--members",
    "n_nonmembers": "--nonmembers",
    "exposures": "--exposures",
    "reference": "--reference",
    "keep_boilerplate": "--keep-boilerplate",
    "drop_overlap": "--drop-overlap",
    "server_wait": "--server-wait",
    "request_timeout": "--request-timeout",
    "top_k": "--top-k",
    "window_prefix": "--window-prefix",
    "window_suffix": "--window-suffix",
    "memorization": "--no-memorization",
}
"""The flag of each library setting that the command line sets (a :class:`SettingError`
names the setting; the command line shows the flag)."""


def add_run_options(p: argparse.ArgumentParser, what: str = "documents", default_detectors: Sequence[str] | None = None) -> None:
    """The options of every command that scores (score, bench, check, demo): the models, the
    detectors (``default_detectors``: the command's default set, for the help), the scorer
    settings, the cache, the device. Read back by :func:`run_options`."""
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model under test: alias, .gguf file, model folder, hub id or http://HOST:PORT/v1 of llm-mia serve (default: {DEFAULT_MODEL})",
    )
    p.add_argument("--reference-model", default=None, help="reference model: adds the 'ref' detector")
    p.add_argument("--detectors", default=None, help=detectors_help(default_detectors))
    p.add_argument("--k", type=float, default=None, help=f"fraction k of the detectors that have one, where --detectors leaves it out (default {DEFAULT_K})")
    p.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help=f"tokens kept per {what[:-1]}, or window length with --stride (default: 1024, or the model's context length if shorter)",
    )
    p.add_argument("--stride", type=int, default=None, help=f"sliding-window step: score every token of long {what} (default: truncate at --max-tokens)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help=f"sequences per forward pass (default {DEFAULTS.batch_size})")
    p.add_argument("--cache-dir", default=None, help="token-statistics cache (default: ~/.cache/llm_mia/stats)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument(
        "--server-wait",
        type=WAIT_SECONDS,
        default=None,
        metavar="SECONDS",
        help=f"with --model http://...: seconds a request the server does not answer is retried before the run stops, exit code 4 (default {SERVER_WAIT:.0f}; 0: no retry)",
    )
    p.add_argument(
        "--request-timeout",
        type=TIMEOUT_SECONDS,
        default=None,
        metavar="SECONDS",
        help=f"with --model http://...: seconds one request may wait for its answer before it counts as failed (default {REQUEST_TIMEOUT:.0f})",
    )
    add_load_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def add_load_options(p: argparse.ArgumentParser) -> None:
    """How a model loads: --device, --dtype, --trust-remote-code (every command that loads one)."""
    p.add_argument(
        "--device", default=None, help="cpu, cuda, cuda:1, ..., or auto: shard the model over every GPU (accelerate's device_map) (default: cuda if available)"
    )
    p.add_argument(
        "--dtype",
        default=None,
        choices=["float32", "bfloat16", "float16"],
        help="weights dtype (default float32; bfloat16 on a GPU or a CPU with native bfloat16, float16 on a GPU: approximations)",
    )
    p.add_argument("--trust-remote-code", action="store_true", help="allow code from a model repository to run (off by default)")
    p.add_argument("--revision", default=None, help="a hub model's branch, tag or commit (e.g. Pythia's step143000); same as --model org/name@REVISION")


def run_options(args: argparse.Namespace) -> tuple[str, RunOptions]:
    """The model spec and the :class:`~llm_mia.pipeline.RunOptions` of score, bench, check and
    demo, from the options of :func:`add_run_options`."""
    return with_revision(args.model, args.revision), RunOptions(
        reference_model=args.reference_model,
        detectors=_names(args.detectors),
        k=args.k,
        config=_scorer_config(args),
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        progress=not args.no_progress,
        device=args.device,
        dtype=args.dtype,
        trust_remote_code=args.trust_remote_code,
        server_wait=args.server_wait,
        request_timeout=args.request_timeout,
    )
