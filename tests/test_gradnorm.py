"""GradNorm (issue 11): the gradient capability, exact against autograd in float64, cached, and
refused where a backend gives no gradients."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_sentences

from llm_mia import Scorer, ScorerConfig, StatsCache, score_documents
from llm_mia.backends import LOGPROBS, MOMENTS, TOP1, HFBackend, MockBackend, cgroup_files, cpu_available_bytes
from llm_mia.errors import InputError
from llm_mia.types import reason_code
from llm_mia.views import TARGET_GRADIENT


def norms_by_autograd(params, loss_of) -> list[float]:
    """[L1, L2, Linf] of d loss / d params, each the mean over the tensors, in float64."""
    loss = loss_of()
    grads = torch.autograd.grad(loss, params)
    return [
        float(torch.stack([g.abs().sum() for g in grads]).mean()),
        float(torch.stack([g.norm() for g in grads]).mean()),
        float(torch.stack([g.abs().max() for g in grads]).mean()),
    ]


def test_the_test_backend_gives_the_exact_gradient():
    backend = MockBackend()
    text = "a short text, with some repeats: text text"
    ids = [256, *text.encode()]
    w = torch.tensor(backend.logp, dtype=torch.float64, requires_grad=True)  # log_softmax(W) = W here: the table is normalised
    prev, nxt = torch.tensor(ids[:-1]), torch.tensor(ids[1:])
    want = norms_by_autograd([w], lambda: -torch.log_softmax(w, dim=-1)[prev, nxt].mean())
    (rec,) = score_documents([text], model=backend, detectors=["gradnorm", "gradnorm:norm=1", "gradnorm:norm=2"], use_cache=False)
    assert rec.scores["gradnorm:norm=1"] == pytest.approx(-want[0], rel=1e-9)
    assert rec.scores["gradnorm:norm=2"] == pytest.approx(-want[1], rel=1e-9)
    assert rec.scores["gradnorm"] == pytest.approx(-want[2], rel=1e-9)


def test_gradnorm_matches_a_float64_reference_on_a_real_model(tiny_lm):
    texts = random_sentences(3, seed=31)
    records = score_documents(texts, model=tiny_lm, detectors=["gradnorm:norm=1", "gradnorm:norm=2", "gradnorm"], use_cache=False)
    model64 = copy.deepcopy(tiny_lm.model).double()
    params = [p for p in model64.parameters() if p.requires_grad]
    scorer = Scorer(tiny_lm)
    for text, rec in zip(texts, records):
        ids = torch.tensor([scorer.tokenize([text])[0]])

        def loss(ids=ids):
            logits = model64(input_ids=ids).logits[0, :-1]
            return -torch.log_softmax(logits, dim=-1).gather(-1, ids[0, 1:, None]).mean()

        want = norms_by_autograd(params, loss)
        got = [-rec.scores["gradnorm:norm=1"], -rec.scores["gradnorm:norm=2"], -rec.scores["gradnorm"]]
        np.testing.assert_allclose(got, want, rtol=2e-4)
    assert all(p.grad is None for p in tiny_lm.model.parameters())  # nothing left behind


def test_gradient_statistics_are_cached(tmp_path):
    backend = MockBackend()
    texts = random_sentences(4, seed=32)
    first = score_documents(texts, model=backend, detectors=["gradnorm"], cache_dir=tmp_path)
    calls = backend.calls
    again = score_documents(texts, model=backend, detectors=["gradnorm"], cache_dir=tmp_path)
    assert backend.calls == calls  # no pass of any kind
    assert [r.scores for r in first] == [r.scores for r in again]
    cache = StatsCache(tmp_path)
    (st,) = Scorer(backend, cache=cache).score_texts(texts[:1], gradient=True)
    assert st.grad_norms is not None and st.grad_norms.shape == (3,)
    (plain,) = Scorer(backend, cache=cache).score_texts(texts[:1])
    assert plain.grad_norms is None  # another view, another record


def test_a_backend_without_gradients_is_refused_before_scoring():
    narrow = MockBackend(capabilities=frozenset({LOGPROBS, MOMENTS, TOP1}))
    with pytest.raises(InputError, match="gradnorm needs the gradient of the loss"):
        score_documents(["some text here"], model=narrow, detectors=["loss", "gradnorm"], use_cache=False)
    assert narrow.calls == 0
    with pytest.raises(InputError, match="gives no gradients"):
        Scorer(narrow).score_texts(["some text"], gradient=True)


def test_gradients_are_refused_with_windows_before_any_scoring():
    backend = MockBackend()
    with pytest.raises(InputError, match="sliding windows"):
        score_documents(["some text here"], model=backend, detectors=["loss", "gradnorm"], config=ScorerConfig(max_tokens=8, stride=4), use_cache=False)
    assert backend.calls == 0
    with pytest.raises(InputError, match="norm must be one of"):
        score_documents(["x"], model=backend, detectors=["gradnorm:norm=3"], use_cache=False)
    assert TARGET_GRADIENT.describe() == "text, with the loss's gradient"


class TightBackend(MockBackend):
    """The test backend on a device with ``free`` bytes, whose backward pass needs 1,000 bytes
    per token (defect 11 of issue 27: nothing bounded gradnorm's memory)."""

    def __init__(self, free: int | None) -> None:
        super().__init__()
        self.free = free
        self.gradient_calls = 0

    def gradient_bytes(self, n: int) -> int:
        return 1000 * n

    def free_bytes(self) -> int | None:
        return self.free

    def forward_with_gradient(self, ids):  # type: ignore[no-untyped-def]
        self.gradient_calls += 1
        return super().forward_with_gradient(ids)


def test_a_text_whose_gradient_would_not_fit_gets_a_status_before_it_runs():
    short, long = "a short one", "a much longer text " * 10  # 12 and 191 tokens with the BOS
    backend = TightBackend(free=100_000)
    records = score_documents([short, long], model=backend, detectors=["loss", "gradnorm"], use_cache=False)
    ok, refused = records
    assert ok.status == "ok" and np.isfinite(ok.scores["gradnorm"])
    assert refused.scores["loss"] is not None  # the text itself was scored; only its gradient was refused
    assert refused.scores.get("gradnorm") is None
    reason = refused.notes["gradnorm"]
    assert reason_code(reason) == "view_unscorable"
    assert "191 tokens needs about 191 kB and 100 kB is free" in reason and "about 100 tokens fit (--max-tokens 100)" in reason
    assert backend.gradient_calls == 1  # the long text never ran
    unknown = TightBackend(free=None)  # free memory unknown: no guard
    score_documents([long], model=unknown, detectors=["gradnorm"], use_cache=False)
    assert unknown.gradient_calls == 1


def test_free_memory_is_bounded_by_the_control_groups_not_counting_their_page_cache(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n")
    assert cpu_available_bytes(str(meminfo), []) == 20_000_000 * 1024
    assert cpu_available_bytes(str(tmp_path / "missing"), []) is None
    root = tmp_path / "cgroup"
    service = root / "system.slice" / "job.service"
    service.mkdir(parents=True)
    (tmp_path / "self").write_text("0::/system.slice/job.service\n")
    files = cgroup_files(str(tmp_path / "self"), str(root))
    assert [Path(f[0]).parent for f in files[:3]] == [service, service.parent, root]  # the group, then its ancestors
    (service / "memory.max").write_text("8000000000\n")
    (service / "memory.current").write_text("7000000000\n")
    (service / "memory.stat").write_text("anon 3000000000\ninactive_file 2500000000\n")
    assert cpu_available_bytes(str(meminfo), files) == 3_500_000_000  # 8 - 7 + 2.5 GB of reclaimable cache
    (service.parent / "memory.max").write_text("9000000000\n")
    (service.parent / "memory.current").write_text("8800000000\n")
    assert cpu_available_bytes(str(meminfo), files) == 200_000_000  # the parent's limit binds
    (service.parent / "memory.max").write_text("max\n")
    assert cpu_available_bytes(str(meminfo), files) == 3_500_000_000


def test_the_real_backend_estimates_its_need_and_the_guard_uses_it(tiny_lm, monkeypatch):
    """The in-process backend's estimate covers the weights' gradients and grows with the text;
    with too little memory free, its texts get the out-of-memory reason instead of running."""
    backend = HFBackend(tiny_lm)
    weights = sum(p.numel() * p.element_size() for p in tiny_lm.model.parameters())
    small, large = backend.gradient_bytes(16), backend.gradient_bytes(64)
    assert weights < small < large
    monkeypatch.setattr("llm_mia.backends.memory.available_bytes", lambda device: small)
    assert backend.free_bytes() == small
    texts = random_sentences(2, seed=33, length=(30, 40))
    (rec, _) = score_documents(texts, model=backend, detectors=["loss", "gradnorm"], use_cache=False)
    assert rec.scores["loss"] is not None and rec.scores.get("gradnorm") is None
    assert "is free: about" in rec.notes["gradnorm"]
