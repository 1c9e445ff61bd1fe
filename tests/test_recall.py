"""ReCaLL and Con-ReCall (issue 11): exact against a float64 reference, checked by hand, and
never scoring a text that is part of a prefix (the pool is held out of every detector)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import random_sentences
from reference import reference_token_stats

from llm_mia.backends import HFBackend, MockBackend
from llm_mia.bench import run_bench
from llm_mia.check import CheckSettings, run_check
from llm_mia.detectors import TARGET, DetectorInput, DetectorSkip, make_detector
from llm_mia.detectors import SEPARATOR
from llm_mia.errors import InputError
from llm_mia.pipeline import open_run
from llm_mia.scoring import Scorer
from llm_mia.types import Document, TokenStats, reason_code
from llm_mia.views import View


def stats(lp):
    lp = np.asarray(lp, dtype=np.float32)
    return TokenStats(np.arange(len(lp) + 1), lp, np.zeros_like(lp), np.ones_like(lp))


def test_recall_and_con_recall_by_hand():
    det = make_detector("recall", shots=1).bind({0: ["prefix"]})
    inp = {TARGET: stats([-1.0, -3.0]), View(context="prefix"): stats([-2.0, -3.0])}
    assert det.score(DetectorInput("x", inp)) == pytest.approx(2.5 / 2.0)  # NLL(x|P) / NLL(x)
    con = make_detector("con_recall", shots=1, gamma=0.5).bind({0: ["non"], 1: ["mem"]})
    inp = {TARGET: stats([-1.0, -3.0]), View(context="non"): stats([-2.0, -3.0]), View(context="mem"): stats([-1.0, -2.0])}
    assert con.score(DetectorInput("x", inp)) == pytest.approx((2.5 - 0.5 * 1.5) / 2.0)
    zero = {TARGET: stats([0.0, 0.0]), View(context="prefix"): stats([-1.0])}
    with pytest.raises(DetectorSkip, match="loss is 0"):
        det.score(DetectorInput("x", zero))
    with pytest.raises(DetectorSkip, match="not bound"):
        make_detector("recall").score(DetectorInput("x", {TARGET: stats([-1.0])}))


def test_the_prefix_is_a_run_setting_not_a_parameter():
    det = make_detector("recall", shots=2).bind({0: ["one", "two", "three"]})
    assert det.key == "recall:shots=2" and det.params == {"shots": 2, "prefix_file": ""}
    assert det.prefix == "one" + SEPARATOR + "two" and det.prefix_texts() == ["one", "two"]
    with pytest.raises(Exception, match="no parameter 'texts'"):
        make_detector("recall", texts="x")
    with pytest.raises(ValueError, match="2 non-member"):
        make_detector("recall", shots=2).bind({0: ["only one"]})


def test_recall_matches_a_float64_reference(tiny_lm):
    """score = NLL(text | P) / NLL(text), each from a float64 forward pass of the model."""
    docs = [Document(f"n{i}", t, 0) for i, t in enumerate(random_sentences(6, seed=91))]
    docs += [Document(f"m{i}", t, 1) for i, t in enumerate(random_sentences(6, seed=92))]
    run = open_run(tiny_lm, detectors=["recall:shots=2", "con_recall:shots=2:gamma=0.3"], use_cache=False, seed=3)
    scored = run.score(docs)
    scorer = Scorer(tiny_lm)
    pool = {label: [next(d.text for d in docs if d.id == i) for i in ids] for label, ids in scored.pool.items()}
    prefix = {label: scorer.tokenize([SEPARATOR.join(texts)])[0] for label, texts in pool.items()}

    def nll(ids, ctx=None):
        full = (ctx or []) + ids
        rows = reference_token_stats(tiny_lm.model, full, len(full), None)
        return -np.mean([r[0] for r in rows[-len(ids) :]])

    checked = 0
    for doc, rec in zip(docs, scored.records):
        if rec.status != "ok":
            continue
        plain = nll(scorer.tokenize([doc.text])[0])
        ids = scorer.tokenize([doc.text], special_tokens=False)[0]
        non, mem = nll(ids, prefix[0]), nll(ids, prefix[1])
        assert rec.scores["recall:shots=2"] == pytest.approx(non / plain, rel=2e-5)
        assert rec.scores["con_recall:gamma=0.3:shots=2"] == pytest.approx((non - 0.3 * mem) / plain, rel=2e-5)
        checked += 1
    assert checked == 8  # 12 documents, 2 non-members and 2 members held out


def test_a_prefix_shared_by_the_batch_runs_once_and_changes_nothing_but_rounding(tiny_lm, monkeypatch):
    """Issue 26, item 5: the prefix's key-value cache is computed once per batch and reused;
    the statistics equal those of each sequence run whole, to float32 rounding."""
    backend = HFBackend(tiny_lm)
    prefix = backend.tokenize([SEPARATOR.join(random_sentences(4, seed=93))])[0]
    texts = random_sentences(5, seed=94)
    batch = [(prefix + backend.tokenize([t], special_tokens=False)[0], len(prefix)) for t in texts]
    runs = []
    monkeypatch.setattr(backend, "_prefix_cache", lambda ids, copies, f=backend._prefix_cache: runs.append((len(ids), copies)) or f(ids, copies))
    backend.share_prefix = False
    whole = backend.forward(batch)
    assert runs == []
    backend.share_prefix = True
    shared = backend.forward(batch)
    assert runs == [(len(prefix) - 1, len(texts))] and backend.share_prefix  # once, for the whole batch, and not fallen back
    for a, b in zip(whole, shared):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, atol=1e-5)
    monkeypatch.setattr(backend, "_prefix_cache", lambda ids, copies: {})  # a model whose cache cannot be repeated
    for a, b in zip(whole, backend.forward(batch)):
        np.testing.assert_array_equal(b, a)  # each sequence whole, as with share_prefix off
    assert backend.share_prefix is False
    backend.share_prefix = True
    assert backend._shared_prefix([(ids, 1) for ids, _ in batch]) == 0  # scored tokens are never shared
    assert backend._shared_prefix(batch[:1]) == 0 and backend._shared_prefix([(ids[:10], 9) for ids, _ in batch]) == 0  # one sequence; too short


def test_sharing_holds_with_left_padding_mixed_starts_and_top_k(tiny_model_dir):
    """The shared path pads on the right whatever the setting; sequences that start scoring at
    different positions share only what none of them scores; top-k statistics follow too."""
    from llm_mia import load_model

    backend = HFBackend(load_model(str(tiny_model_dir), device="cpu"), padding_side="left")
    prefix = backend.tokenize([SEPARATOR.join(random_sentences(4, seed=95))])[0]
    texts = [backend.tokenize([t], special_tokens=False)[0] for t in random_sentences(4, seed=96)]
    batch = [(prefix + ids, len(prefix) + extra) for ids, extra in zip(texts, (0, 2, 0, 3))]
    assert backend._shared_prefix(batch) == len(prefix) - 1
    results = {}
    for share in (False, True):
        backend.share_prefix = share
        results[share] = (backend.forward(batch), backend.forward_topk(batch, 5))
    assert backend.share_prefix
    for whole, shared in zip(results[False], results[True]):
        for a, b in zip(whole, shared):
            assert a.shape == b.shape
            np.testing.assert_allclose(b, a, atol=1e-5)


@pytest.mark.parametrize("seed", range(6))
def test_no_scored_document_is_part_of_a_prefix(seed):
    """Whatever the seed, the pool is drawn from labelled documents, each detector's prefix is
    made of pool texts only, and no pool document gets a score from any detector."""
    texts = random_sentences(30, seed=93)
    docs = [Document(f"d{i}", t, i % 2) for i, t in enumerate(texts)]
    run = open_run(MockBackend(), detectors=["loss", "recall:shots=3", "con_recall:shots=2"], use_cache=False, seed=seed)
    scored = run.score(docs)
    pool_ids = {i for ids in scored.pool.values() for i in ids}
    assert len(scored.pool[0]) == 3 and len(scored.pool[1]) == 2  # the most any detector needs
    by_id = {d.id: d for d in docs}
    assert all(by_id[i].label == label for label, ids in scored.pool.items() for i in ids)
    for doc, rec in zip(docs, scored.records):
        if doc.id in pool_ids:
            assert rec.status == "skipped" and reason_code(rec.reason) == "prefix_pool" and set(rec.scores.values()) == {None}
        else:
            assert rec.status == "ok" and all(v is not None for v in rec.scores.values())
    assert sum(r.status == "ok" for r in scored.records) == 30 - len(pool_ids)
    again = open_run(MockBackend(), detectors=["recall:shots=3"], use_cache=False, seed=seed).score(docs)
    assert again.pool[0] == scored.pool[0]  # seeded: the same pool for the same seed


def test_a_prefix_file_holds_out_a_scored_text_equal_to_one_of_its_texts(tmp_path):
    texts = random_sentences(8, seed=94)
    (tmp_path / "prefix.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:2]))
    run = open_run(MockBackend(), detectors=[f"recall:shots=2:prefix_file={tmp_path / 'prefix.jsonl'}"], use_cache=False)
    scored = run.score(texts)  # no labels needed: the prefix comes from the file
    assert [r.status for r in scored.records] == ["skipped"] * 2 + ["ok"] * 6 and scored.pool == {}
    with pytest.raises(InputError, match="3 non-member"):
        open_run(MockBackend(), detectors=[f"recall:shots=3:prefix_file={tmp_path / 'prefix.jsonl'}"], use_cache=False).score(texts)


def test_too_few_labelled_texts_is_an_error():
    docs = [Document(f"d{i}", t, 1) for i, t in enumerate(random_sentences(6, seed=95))] + [Document("n", "a non-member", 0)]
    with pytest.raises(InputError, match="5 labelled non-member text.*has 1 usable"):
        open_run(MockBackend(), detectors=["recall"], use_cache=False).score(docs)


def test_bench_holds_the_pool_out_of_every_row(tmp_path):
    rows = [{"text": t, "label": i % 2} for i, t in enumerate(random_sentences(40, seed=96))]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run_bench(str(tmp_path / "d.jsonl"), model=MockBackend(), detectors=["loss", "recall:shots=4"], n_bootstrap=20, use_cache=False)
    rows_ = {r.detector: r for r in res.splits[0].evaluation.rows}
    assert rows_["loss"].n_members + rows_["loss"].n_nonmembers == 36  # every row on the same 36 documents
    assert (rows_["loss"].n_members, rows_["loss"].n_nonmembers) == (rows_["recall:shots=4"].n_members, rows_["recall:shots=4"].n_nonmembers)
    costs = res.provenance["cost_by_view"]  # what each view cost, and which detectors used it
    assert costs["text"]["used_by"] == ["loss", "recall:shots=4"] and costs["text"]["texts"] == 36
    (context,) = [c for name, c in costs.items() if name.startswith("text after a context")]
    assert context["used_by"] == ["recall:shots=4"] and context["batches"] >= 1 and context["seconds"] >= 0
    use = res.provenance["label_use"]
    assert use["detectors"] == ["recall:shots=4"] and len(use["held_out"]["d"]["non-member"]) == 4
    assert "recall:shots=4 use labelled texts as a prefix. Held out of every row (scored by no detector): d: 4 non-members." in res.table()


def test_check_draws_the_prefix_from_the_reference_texts_and_leaves_them_out(tmp_path):
    (tmp_path / "s.jsonl").write_text("".join(json.dumps({"text": t, "label": 0}) + "\n" for t in random_sentences(12, seed=97)))
    (tmp_path / "r.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(14, seed=98)))
    settings = CheckSettings(unit="document", detectors=("loss", "recall:shots=3"), n_splits=2, n_permutations=19)
    result = run_check(tmp_path / "s.jsonl", tmp_path / "r.jsonl", model=MockBackend(), settings=settings, use_cache=False)
    assert all(r.status == "ok" for r in result.suspect)  # suspect texts are never drawn, labelled or not
    held = [r for r in result.reference if reason_code(r.reason) == "prefix_pool"]
    assert len(held) == 3 and result.collection.n_reference == 11
    settings = CheckSettings(unit="document", detectors=("con_recall",), n_splits=2, n_permutations=19)
    with pytest.raises(InputError, match="labelled member text.*the reference texts \\(a check has no known members\\) has 0"):
        run_check(tmp_path / "s.jsonl", tmp_path / "r.jsonl", model=MockBackend(), settings=settings, use_cache=False)


@pytest.mark.parametrize("seed", range(4))
def test_no_scored_document_shares_a_book_with_a_prefix_text(seed):
    """Passages of one book or paper: a prefix from a book tells the model about its other
    passages, so the whole group of every pool document is held out (code prefix_group)."""
    texts = random_sentences(40, seed=99)
    docs = [Document(f"d{i}", t, (i // 5) % 2) for i, t in enumerate(texts)]  # 8 books of 5 passages, alternating labels
    groups = [f"book{i // 5}" for i in range(40)]
    run = open_run(MockBackend(), detectors=["loss", "con_recall:shots=1"], use_cache=False, seed=seed)
    scored = run.score(docs, groups=groups)
    pool = {i for ids in scored.pool.values() for i in ids}
    pool_books = {groups[int(i[1:])] for i in pool}
    assert len(pool) == 2 and len(pool_books) == 2
    for g, rec in zip(groups, scored.records):
        if rec.id in pool:
            assert reason_code(rec.reason) == "prefix_pool"
        elif g in pool_books:
            assert rec.status == "skipped" and reason_code(rec.reason) == "prefix_group" and "same book or paper" in rec.reason
        else:
            assert rec.status == "ok"
    assert sum(r.status == "ok" for r in scored.records) == 30


def test_bench_and_check_hold_out_the_books_of_the_prefix_texts(tmp_path, monkeypatch):
    import llm_mia.bench.run as benchmark
    from llm_mia.bench import OpenedSuite, Split, Suite

    texts = random_sentences(40, seed=100)
    split = Split("s", "s", [Document(f"d{i}", t, (i // 5) % 2) for i, t in enumerate(texts)], [f"book{i // 5}" for i in range(40)])
    run = open_run(MockBackend(), detectors=["recall:shots=1"], use_cache=False)
    assert sum(r.status == "ok" for r in run.score(split.documents, groups=split.groups).records) == 35
    opened = OpenedSuite(Suite("s", "t", "-", (), "-", lambda r: [split]), [split])
    monkeypatch.setattr(benchmark, "open_suite", lambda *a, **k: opened)  # a grouped split, as arXivTection's papers
    res = run_bench("s", model=MockBackend(), detectors=["loss", "recall:shots=1"], n_bootstrap=20, use_cache=False)
    assert len(res.provenance["label_use"]["held_out"]["s"]["same-book passage"]) == 4
    assert "s: 1 non-members, 4 same-book passages." in res.table()
    assert res.splits[0].evaluation.rows[0].n_members + res.splits[0].evaluation.rows[0].n_nonmembers == 35
    book = tmp_path / "ref"
    book.mkdir()
    for b in range(3):
        (book / f"b{b}.txt").write_text(" ".join(random_sentences(30, seed=200 + b)))
    (tmp_path / "s.txt").write_text(" ".join(random_sentences(60, seed=300)))
    settings = CheckSettings(unit="book", detectors=("loss", "recall:shots=1"), excerpt_words=40, n_splits=2, n_permutations=19)
    result = run_check(tmp_path / "s.txt", book, model=MockBackend(), settings=settings, use_cache=False)
    pooled = [r for r in result.reference if reason_code(r.reason) == "prefix_pool"]
    mates = [r for r in result.reference if reason_code(r.reason) == "prefix_group"]
    (source,) = {r.id.rsplit("#", 1)[0] for r in pooled}
    assert len(pooled) == 1 and mates and all(r.id.rsplit("#", 1)[0] == source for r in mates)
    assert all(r.id.rsplit("#", 1)[0] != source for r in result.reference if r.status == "ok")
