"""Where llm-mia is and keeps files of its own (converted models, the token-statistics cache),
file hashes and the versions its numbers depend on."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

VERSION = "0.1.0"
"""llm-mia's release (as in pyproject.toml); ``llm_mia.__version__``."""
PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed package's folder (what tells llm-mia's own warnings from others)."""


def cache_home() -> Path:
    """``$LLM_MIA_CACHE``, else ``$XDG_CACHE_HOME/llm_mia``, else ``~/.cache/llm_mia``."""
    env = os.environ.get("LLM_MIA_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "llm_mia"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, memoised on (path, size, mtime) within the process."""
    p = Path(path).resolve()
    st = p.stat()
    return _sha256_file(str(p), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _sha256_file(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of llm-mia and the libraries its numbers depend on (for provenance)."""
    from importlib import metadata

    out = {}
    for pkg in ("llm-mia", "torch", "transformers", "numpy", "scipy", "gguf"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
