"""Marks (llm_mia.marks): the manifest, insertion, and the exact test: at level without
training, and finding the published marks in a model trained on them."""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import stat

import numpy as np
import pytest
from conftest import train_on

from llm_mia import InputError, ScorerConfig
from llm_mia.backends import MockBackend
from llm_mia.marks import insert_marks, load_manifest, make_marks, mark_test, missing_marks, permutation_p, published_texts, save_manifest


def test_the_manifest_round_trips_and_is_the_owners_secret(tmp_path):
    backend = MockBackend()
    manifest = make_marks(backend, design="chars", n_marks=30, n_published=12, length=10, seed="abc123")
    again = make_marks(backend, design="chars", n_marks=30, n_published=12, length=10, seed="abc123")
    assert [m.text for m in again.marks] == [m.text for m in manifest.marks] and again.commitment == manifest.commitment  # the seed alone decides
    assert len(manifest.published) == 12 and len({m.text for m in manifest.marks}) == 30 and all(m.tokens >= 10 for m in manifest.marks)
    other = make_marks(backend, design="chars", n_marks=30, n_published=12, length=10, seed="abc124")
    assert not {m.text for m in other.marks} & {m.text for m in manifest.marks}
    path = save_manifest(manifest, tmp_path / "marks.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = load_manifest(path)
    assert loaded == manifest and loaded.commitment == manifest.commitment
    with pytest.raises(InputError, match="already exists"):
        save_manifest(manifest, path)
    assert (
        make_marks(backend, design="chars", n_marks=4, n_published=2, length=4).seed
        != make_marks(backend, design="chars", n_marks=4, n_published=2, length=4).seed
    )  # fresh secret seeds


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda d: d["marks"][0].update(text=d["marks"][0]["text"] + "x"), "changed after it was made"),
        (lambda d: d.update(format="something else"), "not a mark manifest"),
        (lambda d: d.pop("seed"), "missing or malformed"),
    ],
)
def test_a_manifest_edited_by_hand_is_refused(tmp_path, edit, words):
    manifest = make_marks(MockBackend(), design="chars", n_marks=10, n_published=5, length=6, seed="1f")
    path = save_manifest(manifest, tmp_path / "m.json")
    data = json.loads(path.read_text())
    edit(data)
    (tmp_path / "edited.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=words):
        load_manifest(tmp_path / "edited.json")


def test_swapping_published_marks_is_refused_even_with_a_new_commitment(tmp_path):
    """Which marks are published must be the seed's choice: an owner (or anyone) who swaps them
    and recomputes the commitment is caught, since the p-value would no longer be exact."""
    from llm_mia.marks import Manifest, Mark

    manifest = make_marks(MockBackend(), design="chars", n_marks=10, n_published=5, length=6, seed="2f")
    first_secret = manifest.secret[0].index
    first_published = manifest.published[0].index
    swapped = [Mark(m.index, m.text, (m.published or m.index == first_secret) and m.index != first_published, m.tokens) for m in manifest.marks]
    forged = Manifest(**{**manifest.__dict__, "marks": swapped, "commitment": ""})
    forged = Manifest(**{**forged.__dict__, "commitment": forged.digest()})
    path = save_manifest(forged, tmp_path / "forged.json")
    with pytest.raises(InputError, match="not the ones its seed chooses"):
        load_manifest(path)


def test_a_rewritten_manifest_is_refused_by_the_published_commitment_and_by_its_seed(tmp_path):
    """A secret mark swapped for another, the commitment recomputed: the file is consistent with
    itself, but not with the commitment the owner published, and its seed does not give the mark
    again."""
    from llm_mia.marks import Manifest, Mark

    backend = MockBackend()
    manifest = make_marks(backend, design="chars", n_marks=10, n_published=5, length=6, seed="3f")
    swap = manifest.secret[0].index
    marks = [Mark(m.index, "zzzz " * 3 if m.index == swap else m.text, m.published, m.tokens) for m in manifest.marks]
    forged = Manifest(**{**manifest.__dict__, "marks": marks, "commitment": ""})
    forged = Manifest(**{**forged.__dict__, "commitment": forged.digest()})
    path = save_manifest(forged, tmp_path / "forged.json")
    assert load_manifest(path) == forged  # consistent with itself
    with pytest.raises(InputError, match="commitment was published"):
        load_manifest(path, commitment=manifest.commitment)
    assert load_manifest(path, commitment=forged.commitment.upper()) == forged
    with pytest.raises(InputError, match=f"e.g. mark {swap}\\)"):
        mark_test(forged, backend, progress=False)
    part = Manifest(**{**manifest.__dict__, "marks": [m for m in manifest.marks if m.index >= 3]})  # a part of one: still the seed's marks
    assert mark_test(part, backend, progress=False).n_secret == len([m for m in part.marks if not m.published])


def test_bad_seeds_are_refused():
    for seed in ("-1f", "0x1f", "g1", ""):
        with pytest.raises(InputError, match="hexadecimal"):
            make_marks(MockBackend(), design="chars", n_marks=4, n_published=2, length=4, seed=seed)


def test_the_marks_never_reach_the_statistics_cache(tmp_path):
    """The cache keeps token ids on disk: the secret marks must not land there, even when the
    caller asks for the cache."""
    backend = MockBackend()
    manifest = make_marks(backend, design="chars", n_marks=8, n_published=4, length=6, seed="44")
    mark_test(manifest, backend, cache_dir=str(tmp_path / "stats"), use_cache=True, progress=False)
    assert not any(f.is_file() and f.stat().st_size for f in (tmp_path / "stats").rglob("*"))


def test_the_published_marks_are_placed_and_the_secret_ones_are_not():
    manifest = make_marks(MockBackend(), design="chars", n_marks=20, n_published=8, length=8, seed="77")
    text = "\n\n".join(f"Paragraph {i} of a book about nothing." for i in range(30))
    marked = insert_marks(text, manifest, repeat=3)
    assert insert_marks(text, manifest, repeat=3) == marked  # the places come from the seed
    assert all(marked.count(t) == 3 for t in published_texts(manifest))
    assert not any(m.text in marked for m in manifest.secret)
    assert missing_marks(marked, manifest) == [] and len(missing_marks(text, manifest)) == 8
    assert marked.startswith("Paragraph 0") and all(f"Paragraph {i} " in marked for i in range(30))
    with pytest.raises(InputError, match="empty"):
        insert_marks("  ", manifest)
    windows = insert_marks(text.replace("\n", "\r\n"), manifest)  # Windows line ends: marks between paragraphs all the same
    assert windows.count("\r\n\r\n") == 30 + 8 - 1 and "\n\n" not in windows.replace("\r\n\r\n", "")


def test_the_permutation_p_value_counts_every_choice(monkeypatch):
    """Enumeration against a count by hand; Monte Carlo is never below 1/(B+1) and agrees with enumeration."""
    scores = np.array([0.3, 1.0, -0.2, 0.9, 0.1])
    mask = np.array([False, True, False, True, False])
    p, method, n = permutation_p(scores, mask)
    sums = [scores[list(c)].sum() for c in itertools.combinations(range(5), 2)]
    assert method == "enumeration" and n == 10 and p == sum(s >= 1.9 - 1e-12 for s in sums) / 10 == 0.1
    rng = np.random.default_rng(5)
    big = rng.normal(size=40)
    big_mask = np.zeros(40, dtype=bool)
    big_mask[rng.choice(40, 20, replace=False)] = True
    mc, method, draws = permutation_p(big, big_mask, n_draws=4000, seed=1)
    assert method == "monte carlo" and draws == 4000 and mc >= 1 / 4001
    import llm_mia.marks.exact as exact

    counted = permutation_p(big[:16], big_mask[:16])  # 12,870 choices: every one counted
    monkeypatch.setattr(exact, "ENUMERATE", 0)
    drawn = permutation_p(big[:16], big_mask[:16], n_draws=20000, seed=3)
    assert drawn[1] == "monte carlo" and abs(drawn[0] - counted[0]) < 4 * math.sqrt(counted[0] * (1 - counted[0]) / 20000) + 1 / 20001
    monkeypatch.undo()
    small = permutation_p(big[:16], big_mask[:16])
    assert small[1] == "enumeration"
    again = permutation_p(big[:16], big_mask[:16], n_draws=20000)[0]
    assert abs(small[0] - again) < 1e-12  # the same: enumeration whenever the subsets can be counted


def test_the_test_is_at_level_on_a_model_that_never_saw_the_marks():
    """200 manifests (fresh seeds) tested on a model that never saw them: the p-values are
    uniform, so p < 0.05 in about 5% of them (exact enumeration over C(16, 8) choices)."""
    backend = MockBackend(3)
    ps = []
    for k in range(200):
        manifest = make_marks(backend, design="chars", n_marks=16, n_published=8, length=6, seed=f"{k + 1:x}")
        ps.append(mark_test(manifest, backend, use_cache=False, progress=False).p_value)
    ps = np.array(ps)
    hits = int((ps < 0.05).sum())
    assert 2 <= hits <= 20, hits  # binomial(200, 0.05): 10 expected; outside [2, 20] has probability < 0.001
    assert 0.4 < np.mean(ps) < 0.6 and (ps > 0).all()


def test_a_model_trained_on_the_published_marks_is_found(tiny_model_dir):
    from llm_mia import load_model

    lm = load_model(str(tiny_model_dir), device="cpu")
    manifest = make_marks(lm, design="chars", n_marks=16, n_published=8, length=8, seed="beef")
    before = mark_test(manifest, lm, use_cache=False, progress=False)
    train_on(lm, published_texts(manifest), steps=60)
    after = mark_test(manifest, lm, use_cache=False, progress=False)
    assert after.significant and after.p_value < 0.01 and after.mean_rank > 0.9
    assert not before.significant
    assert after.method == "enumeration" and after.n_subsets == math.comb(16, 8)


def test_marks_longer_than_the_model_scores_are_refused():
    backend = MockBackend()
    manifest = make_marks(backend, design="chars", n_marks=6, n_published=3, length=12, seed="5")
    with pytest.raises(InputError, match="make shorter marks"):
        mark_test(manifest, backend, config=ScorerConfig(max_tokens=8), use_cache=False)
    with pytest.raises(InputError, match="do not fit the model's context"):
        make_marks(MockBackend(max_positions=8), design="chars", n_marks=6, n_published=3, length=12)
    with pytest.raises(InputError, match="detectors cannot be chosen"):
        mark_test(manifest, backend, detectors=["zlib"])


def test_the_sentences_design_samples_from_the_model():
    backend = MockBackend()
    a = make_marks(backend, design="sentences", n_marks=6, n_published=3, length=8, seed="99")
    b = make_marks(backend, design="sentences", n_marks=6, n_published=3, length=8, seed="99")
    assert [m.text for m in a.marks] == [m.text for m in b.marks] and len({m.text for m in a.marks}) == 6
    assert all(m.text.strip() for m in a.marks)
    with pytest.raises(InputError, match="cannot do here"):
        from llm_mia.backends import LOGPROBS

        make_marks(MockBackend(capabilities=frozenset({LOGPROBS})), design="sentences", n_marks=6, n_published=3, length=8)


def test_sampling_is_seeded_per_sequence(tiny_lm):
    """The in-process backend's sampling: the same seed gives the same tokens, whatever else is
    in the batch; temperature 0 is the argmax chain."""
    from llm_mia.backends import HFBackend

    backend = HFBackend(tiny_lm)
    start = backend.tokenize(["Hello"])[0]
    together = backend.generate([start] * 3, 6, temperature=3.0, seeds=[1, 2, 3])
    alone = backend.generate([start], 6, temperature=3.0, seeds=[2])
    assert together[1] == alone[0] and len(set(map(tuple, together))) > 1
    greedy = backend.generate([start, start], 6)
    assert greedy[0] == greedy[1]


def test_the_commands_round_trip(tmp_path, capsys):
    from llm_mia.cli import main

    manifest = tmp_path / "marks.json"
    # 16 marks, 8 published: C(16, 8) = 12,870 subsets, every one counted
    assert main(["marks", "make", "-o", str(manifest), "--model", "test-backend", "--design", "chars", "--marks", "16", "--length", "6"]) == 0
    assert "KEEP" in capsys.readouterr().err
    assert main(["marks", "make", "-o", str(manifest), "--model", "test-backend"]) == 2  # never replaced
    doc = tmp_path / "doc.txt"
    doc.write_text("One.\n\nTwo.\n\nThree.")
    marked = tmp_path / "marked.txt"
    assert main(["marks", "insert", str(doc), "-o", str(marked), "--marks", str(manifest), "--repeat", "2"]) == 0
    assert doc.read_text() == "One.\n\nTwo.\n\nThree."
    assert main(["marks", "insert", str(doc), "-o", str(doc), "--marks", str(manifest), "--force"]) == 2  # never over the input
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9")
    capsys.readouterr()
    assert main(["marks", "insert", str(latin), "-o", str(tmp_path / "l.txt"), "--marks", str(manifest)]) == 2
    assert "latin.txt is not valid UTF-8 (byte 3)" in capsys.readouterr().err
    assert main(["marks", "insert", "--list", "--marks", str(manifest)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 8 and all(line in marked.read_text() for line in listed)
    report, page = tmp_path / "r.json", tmp_path / "r.html"
    code = main(["marks", "test", str(manifest), "--model", "test-backend", "--text", str(marked), "--json", str(report), "--html", str(page), "--no-cache"])
    assert code == 0 and "Why the p-value is exact" in capsys.readouterr().out
    data = json.loads(report.read_text())
    secret = [m.text for m in load_manifest(manifest).secret]
    assert not any(t in report.read_text() or t in page.read_text() or t in "\n".join(listed) for t in secret)  # the reports name no secret mark
    assert data["method"] == "enumeration" and 0 < data["p_value"] <= 1 and len(data["scores"]) == 16
    assert "<svg" in page.read_text() and not re.search(r"(src|href)=.https?:", page.read_text())  # loads nothing from the network
    assert main(["marks", "test", str(manifest), "--model", "test-backend", "--text", str(doc)]) == 2  # the marks are not in it
