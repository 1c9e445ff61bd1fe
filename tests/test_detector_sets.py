"""What a user types (issue 22, item 4): ``--detectors all`` and ``--detectors default`` (also
in a list, and in Python), every detector ``all`` leaves out named with why (in the run, its
provenance and one warning), a detector list given as one string in Python, an unknown-name
message whose "Known:" list works when pasted back, and help text that names the real defaults."""

from __future__ import annotations

import json
import re

import pytest
from conftest import random_sentences

from llm_mia import score_documents
from llm_mia.backends import LOGPROBS, MockBackend
from llm_mia.bench import run_bench
from llm_mia.check import CheckSettings, run_check
from llm_mia.cli import main
from llm_mia.detectors import DETECTORS, default_detector_names
from llm_mia.errors import InputError
from llm_mia.pipeline import choose_detectors, open_run, resolve_detectors

TEXTS = random_sentences(6, seed=81)
NEED_REFERENCE = {"ref", "wbc"}
NEED_LABELS = {"recall", "con_recall"}
NEED_PARAMETER = {"dc_pdd"}  # a frequency table: dc_pdd:table=PATH
NEED_MOMENTS_OR_GRADIENTS = {"min_k_pp", "gap_k", "gradnorm"}


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def files(tmp_path):
    _jsonl(tmp_path / "u.jsonl", [{"text": t} for t in TEXTS])
    _jsonl(tmp_path / "l.jsonl", [{"id": f"d{i}", "text": t, "label": i % 2} for i, t in enumerate(random_sentences(16, seed=82))])
    return tmp_path


def score(files, source, *options, capsys):
    out = files / "out.jsonl"
    argv = ["score", files / source, "-o", out, "--force", "--model", "test-backend", "--no-cache", "--no-progress", *options]
    code, _, err = run(argv, capsys)
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return code, rows, err


def warning_lines(err):
    return [line for line in err.splitlines() if line.startswith("llm-mia: warning:")]


def test_all_runs_every_detector_the_run_can_use_and_names_the_others_with_why(files, capsys):
    code, rows, err = score(files, "u.jsonl", "--detectors", "all", capsys=capsys)
    assert code == 0, err
    ran = set(rows[0]["scores"])
    assert ran == set(DETECTORS) - NEED_REFERENCE - NEED_LABELS - NEED_PARAMETER  # camia, gap_k, gradnorm too: not only the defaults
    assert set(default_detector_names()) < ran
    (line,) = warning_lines(err)  # one line names them all
    assert line.startswith("llm-mia: warning: detectors: 'all' leaves out ")
    assert "ref, wbc: needs a reference model: --reference-model / reference_model=" in line
    assert "dc_pdd: needs a token frequency table: dc_pdd:table=PATH" in line
    assert "recall: needs labelled texts to hold out as a prefix (5 non-member), but too few are usable in the input" in line
    assert "con_recall: needs labelled texts to hold out as a prefix (5 non-member and 5 member), but too few are usable in the input" in line


def test_all_with_a_reference_model_and_labelled_texts_leaves_out_only_what_needs_a_parameter(files, capsys):
    code, rows, err = score(files, "l.jsonl", "--detectors", "all", "--reference-model", "test-backend", capsys=capsys)
    assert code == 0, err
    scored = [r for r in rows if r["status"] == "ok"]
    assert set(scored[0]["scores"]) == set(DETECTORS) - NEED_PARAMETER
    assert sum(r.get("reason_code") == "prefix_pool" for r in rows) == 10  # the pool rules apply: 5 members and 5 non-members held out
    (line,) = warning_lines(err)
    assert line.startswith("llm-mia: warning: detectors: 'all' leaves out dc_pdd: needs a token frequency table") and ";" not in line  # dc_pdd alone


def test_the_run_records_what_all_left_out_and_why():
    run_ = open_run("test-backend", detectors="all", use_cache=False)
    assert set(run_.left_out) == NEED_REFERENCE | NEED_PARAMETER
    assert run_.left_out["wbc"] == "needs a reference model: --reference-model / reference_model="
    with pytest.warns(UserWarning, match="'all' leaves out .*recall: needs labelled texts"):
        run_.score(TEXTS)
    assert set(run_.left_out) == NEED_REFERENCE | NEED_PARAMETER | NEED_LABELS  # labels: known once the documents are
    provenance = run_.provenance()
    assert provenance["detectors_left_out"] == run_.left_out
    assert {d["key"] for d in provenance["detectors"]} == set(DETECTORS) - NEED_REFERENCE - NEED_PARAMETER - NEED_LABELS
    with_ref = open_run("test-backend", MockBackend(1), detectors="all", use_cache=False)
    assert set(with_ref.left_out) == NEED_PARAMETER and NEED_REFERENCE <= {d.key for d in with_ref.detectors}


def test_all_leaves_out_what_the_backend_does_not_compute_exactly():
    backend = MockBackend(capabilities=frozenset({LOGPROBS}))  # like a served model: no full distribution, no gradients
    with pytest.warns(UserWarning) as caught:
        records = score_documents(TEXTS, model=backend, detectors="all", use_cache=False)
    assert set(records[0].scores) == set(DETECTORS) - NEED_REFERENCE - NEED_LABELS - NEED_PARAMETER - NEED_MOMENTS_OR_GRADIENTS
    (message,) = [str(w.message) for w in caught]
    assert "min_k_pp: needs exact next-token moments (the whole distribution) from the model under test, which test-backend does not give" in message
    assert "gradnorm: needs the gradient of the loss with respect to the weights" in message and "gap_k: needs" in message
    run_ = open_run(backend, detectors="all", use_cache=False)
    assert NEED_MOMENTS_OR_GRADIENTS <= set(run_.provenance()["detectors_left_out"])
    with pytest.raises(InputError, match="detector gap_k needs"):  # named, not only brought by "all": still an error
        open_run(backend, detectors="all,gap_k", use_cache=False)


def test_default_and_all_also_in_a_list(files, capsys):
    code, rows, err = score(files, "u.jsonl", "--detectors", "default", capsys=capsys)
    assert code == 0 and list(rows[0]["scores"]) == default_detector_names() and not warning_lines(err)
    code, rows, err = score(files, "u.jsonl", "--detectors", "default,gap_k,min_k:k=0.1", capsys=capsys)
    assert code == 0 and list(rows[0]["scores"]) == [*default_detector_names(), "gap_k", "min_k:k=0.1"], err
    assert [d.key for d in resolve_detectors(["default", "gap_k"])] == [*default_detector_names(), "gap_k"]
    assert [d.key for d in resolve_detectors("default,loss,default")] == default_detector_names()  # a set names loss again: not twice
    assert [d.key for d in resolve_detectors("default", default=["loss", "camia"])] == ["loss", "camia"]  # another default set
    assert [d.key for d in resolve_detectors(None, default=["zlib"])] == ["zlib"]
    assert "loss" in {d.key for d in resolve_detectors("all,loss")}
    with pytest.raises(InputError, match="'loss' is listed twice"):
        resolve_detectors("loss,loss")
    assert [d.key for d in choose_detectors("default", reference_model="x")] == [*default_detector_names(), "ref"]


def test_a_string_is_one_detector_list_in_python(files):
    records = score_documents(TEXTS, model="test-backend", detectors="loss", use_cache=False)
    assert list(records[0].scores) == ["loss"]
    records = score_documents(TEXTS, model="test-backend", detectors="loss, min_k:k=0.1", use_cache=False)
    assert list(records[0].scores) == ["loss", "min_k:k=0.1"]
    assert [d.key for d in open_run("test-backend", detectors="zlib", use_cache=False).detectors] == ["zlib"]
    assert [d.key for d in choose_detectors("ref", reference_model="x")] == ["ref"]
    with pytest.raises(InputError, match="names no detector"):
        resolve_detectors(" , ")
    result = run_bench(str(files / "l.jsonl"), model=MockBackend(), detectors="loss", use_cache=False, n_bootstrap=20)
    assert [d["key"] for d in result.provenance["detectors"]] == ["loss"]
    _jsonl(files / "s.jsonl", [{"text": t} for t in random_sentences(10, seed=83)])
    _jsonl(files / "r.jsonl", [{"text": t} for t in random_sentences(10, seed=84)])
    settings = CheckSettings(unit="document", detectors="loss,zlib", n_splits=2, n_permutations=19, top=0)
    assert run_check(files / "s.jsonl", files / "r.jsonl", model=MockBackend(), settings=settings, use_cache=False).detectors == ["loss", "zlib"]


def test_all_in_a_check_leaves_out_what_needs_known_members(files):
    _jsonl(files / "s.jsonl", [{"text": t} for t in random_sentences(10, seed=85)])
    _jsonl(files / "r.jsonl", [{"text": t} for t in random_sentences(10, seed=86)])
    settings = CheckSettings(unit="document", detectors="all", n_splits=2, n_permutations=19, top=0)
    with pytest.warns(UserWarning, match="con_recall: needs labelled texts"):
        result = run_check(files / "s.jsonl", files / "r.jsonl", model=MockBackend(), settings=settings, use_cache=False)
    assert "recall" in result.detectors and "con_recall" not in result.detectors  # the reference texts are known non-members only


def _known(err):
    """The names of the "Known:" list of an unknown-detector message."""
    (known,) = re.findall(r"Known: (.*?) \(or: all, default\)", err)
    return known


@pytest.mark.parametrize("reference", [[], ["--reference-model", "test-backend:1"]])
def test_the_known_list_of_an_unknown_name_works_pasted_back(reference, files, capsys):
    code, _, err = score(files, "u.jsonl", "--detectors", "loss,nonesuch", *reference, capsys=capsys)
    assert code == 2 and "unknown detector 'nonesuch'" in err
    assert "dc_pdd (dc_pdd:table=PATH)" in err and ("ref, wbc (--reference-model)" in err) == (not reference)
    known = _known(err)
    code, rows, err = score(files, "u.jsonl", "--detectors", known.replace(" ", ""), *reference, capsys=capsys)
    assert code == 0, err
    assert list(rows[0]["scores"]) == known.split(", ")
    assert ("ref" in rows[0]["scores"]) == bool(reference)


def test_all_and_default_are_names_not_typos(files, capsys):
    code, _, err = score(files, "u.jsonl", "--detectors", "al", capsys=capsys)
    assert code == 2 and "Did you mean 'all'" in err
    code, _, err = score(files, "u.jsonl", "--detectors", "defualt", capsys=capsys)
    assert code == 2 and "Did you mean 'default'" in err


def test_the_help_names_the_real_defaults_and_the_sets(capsys):
    from llm_mia.check import CHECK_DETECTORS

    for command, defaults in (("score", default_detector_names()), ("bench", default_detector_names()), ("check", CHECK_DETECTORS), ("demo", CHECK_DETECTORS)):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
        assert f"default = {', '.join(defaults)} (the default" in text, command
        assert "all = every detector the run can use" in text and "(default,gap_k)" in text
    code, out, _ = run(["detectors"], capsys)
    assert code == 0 and f"--detectors default: {', '.join(default_detector_names())}" in out
    assert _known(out) and "dc_pdd (dc_pdd:table=PATH)" in out
