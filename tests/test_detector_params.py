"""Detector parameters end to end (issue 10, item 2): one syntax on every command
(``min_k:k=0.1``), errors with "did you mean", two instances of one detector side by side,
parameters recorded in every output, and detector modules found without being listed."""

from __future__ import annotations

import json
import subprocess
import textwrap
import sys

import pytest
from conftest import package_with_detector, random_sentences

from llm_mia import Scorer, ScorerConfig
from llm_mia.cli import main
from llm_mia.detectors import DETECTORS, TARGET, DetectorInput, make_detector, parse_detector

NO_MODEL = "./there/is/no/model"
SPECS = "loss,min_k:k=0.1,min_k:k=0.3,min_k_pp:k=0.3"


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def labelled(tmp_path):
    rows = [{"text": t, "label": 1} for t in random_sentences(6, seed=21)] + [{"text": t, "label": 0} for t in random_sentences(6, seed=22)]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_keys_name_the_parameters_that_differ_and_parse_back():
    assert parse_detector("min_k").key == "min_k" and parse_detector("min_k:k=0.2").key == "min_k"
    assert parse_detector(" min_k : k = 0.1 ").key == "min_k:k=0.1"
    assert parse_detector("min_k", k=0.5).key == "min_k:k=0.5" and parse_detector("min_k:k=0.1", k=0.5).key == "min_k:k=0.1"
    assert parse_detector("loss", k=0.5).key == "loss"  # --k only reaches detectors that have a k
    required = {"dc_pdd": {"table": "some/table.json"}}  # parameters without a usable default
    for name in DETECTORS:
        base = make_detector(name, **required.get(name, {}))
        for det in [base] + ([make_detector(name, k=0.35, **required.get(name, {}))] if "k" in base.params else []):
            assert parse_detector(det.key) == det
    with pytest.raises(ValueError, match="needs a token frequency table"):
        make_detector("dc_pdd")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("min_k:kk=0.1", "has no parameter 'kk'. Did you mean 'k'? Its parameters: k=0.2"),
        ("min_k:k=abc", "parameter k takes a number, not 'abc'"),
        ("min_k:k=2", "detector 'min_k': k must be in (0, 1]"),
        ("min_k:k", "write parameters as name:param=value"),
        ("min_k:k=0.1:k=0.2", "sets 'k' twice"),
        ("loss:k=0.1", "detector 'loss' has no parameter 'k'"),
        ("min_k,min_k:k=0.2", "detector 'min_k' is listed twice"),
        ("mink", "Did you mean 'min_k'"),
    ],
)
def test_bad_specs_stop_every_command_before_the_model_loads(spec, message, labelled, tmp_path, capsys):
    for argv in (
        ["score", labelled, "-o", tmp_path / "o.jsonl"],
        ["bench", labelled, "--out", tmp_path / "b"],
        ["check", labelled, "--reference", labelled, "--html", ""],
    ):
        code, _, err = run([*argv, "--model", NO_MODEL, "--detectors", spec], capsys)
        assert code == 2 and message in err and "Traceback" not in err, (argv, err)


def test_score_runs_two_instances_of_one_detector_and_records_their_parameters(tiny_model_dir, tiny_lm, labelled, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    code, _, err = run(["score", labelled, "-o", out, "--model", tiny_model_dir, "--detectors", SPECS, "--no-cache", "--no-progress"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert list(rows[0]["scores"]) == SPECS.split(",")
    assert rows[0]["params"] == {"min_k:k=0.1": {"k": 0.1}, "min_k:k=0.3": {"k": 0.3}, "min_k_pp:k=0.3": {"k": 0.3}}
    texts = [json.loads(line)["text"] for line in labelled.read_text().splitlines()]
    stats = Scorer(tiny_lm, ScorerConfig()).score_texts(texts)
    for row, st in zip(rows, stats):
        inp = DetectorInput(text="", stats={TARGET: st})
        for key in ("min_k:k=0.1", "min_k:k=0.3", "min_k_pp:k=0.3"):
            assert row["scores"][key] == pytest.approx(parse_detector(key).score(inp), abs=1e-9)
    assert rows[0]["scores"]["min_k:k=0.1"] != rows[0]["scores"]["min_k:k=0.3"]
    code, table, _ = run(["eval", out, "--bootstrap", "20"], capsys)
    assert code == 0 and "min_k:k=0.1" in table and "min_k:k=0.3" in table


def test_the_k_option_of_score_still_works(tiny_model_dir, labelled, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    code, _, _ = run(
        ["score", labelled, "-o", out, "--model", tiny_model_dir, "--detectors", "loss,min_k,min_k_pp:k=0.1", "--k", "0.5", "--no-cache", "--no-progress"],
        capsys,
    )
    row = json.loads(out.read_text().splitlines()[0])
    assert code == 0 and list(row["scores"]) == ["loss", "min_k:k=0.5", "min_k_pp:k=0.1"]


def test_bench_and_check_take_parameters_and_record_them(tiny_model_dir, labelled, tmp_path, capsys):
    code, table, err = run(
        [
            "bench",
            labelled,
            "--model",
            tiny_model_dir,
            "--detectors",
            SPECS,
            "--out",
            tmp_path / "b",
            "--bootstrap",
            "20",
            "--cache-dir",
            tmp_path / "c",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, err
    assert "min_k:k=0.1" in table and "min_k:k=0.3" in table
    saved = json.loads((tmp_path / "b" / "results.json").read_text())
    assert {"key": "min_k:k=0.3", "name": "min_k", "params": {"k": 0.3}} in saved["provenance"]["detectors"]

    sus, ref = tmp_path / "s.jsonl", tmp_path / "r.jsonl"
    sus.write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(10, seed=23)))
    ref.write_text("".join(json.dumps({"text": t}) + "\n" for t in random_sentences(10, seed=24)))
    code, summary, err = run(
        [
            "check",
            sus,
            "--reference",
            ref,
            "--model",
            tiny_model_dir,
            "--detectors",
            SPECS,
            "--html",
            "",
            "--json",
            tmp_path / "c.json",
            "--splits",
            "2",
            "--permutations",
            "19",
            "--cache-dir",
            tmp_path / "c",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, err
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["detectors"] == SPECS.split(",")
    assert {"key": "min_k_pp:k=0.3", "name": "min_k_pp", "params": {"k": 0.3}} in report["provenance"]["detectors"]
    assert report["suspect"][0]["params"]["min_k:k=0.1"] == {"k": 0.1}


def test_a_new_detector_is_one_file(tmp_path):
    """Copy the package, add one file to its detectors folder, and nothing else: the new
    detector is found, listed after the built-ins, and runs with its parameter."""
    package_with_detector(
        tmp_path,
        "max_prob",
        '''
        """An example detector written by a test."""
        from dataclasses import dataclass

        import numpy as np

        from .base import TARGET, Detector, DetectorInput, register


        @register
        @dataclass(frozen=True)
        class TopTokens(Detector):
            """Mean of the ``top`` highest token log-probabilities (an example, not a method)."""

            name = "top_tokens"
            formula = "mean of the top highest lp_t"
            citation = "none (test)"
            top: int = 1

            def score(self, inp: DetectorInput) -> float:
                return float(np.sort(inp.stats[TARGET].logprobs)[-self.top:].mean())
    ''',
    )
    probe = textwrap.dedent("""
        import numpy as np
        from llm_mia.detectors import DETECTORS, TARGET, DetectorInput, parse_detector
        from llm_mia.types import TokenStats
        st = TokenStats(np.arange(5), np.array([-1.0, -3.0, -0.5, -2.0], dtype=np.float32), np.zeros(4), np.ones(4))
        d = parse_detector("top_tokens:top=2")
        import json
        print(json.dumps([list(DETECTORS), d.key, d.score(DetectorInput("", {TARGET: st}))]))
    """)
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}, check=False)
    assert res.returncode == 0, res.stderr
    names, key, value = json.loads(res.stdout)
    assert names[:6] == ["loss", "zlib", "lowercase", "min_k", "min_k_pp", "ref"] and "top_tokens" in names  # built-ins first, then found
    assert (key, value) == ("top_tokens:top=2", -0.75)


@pytest.mark.parametrize("spec", ["con_recall:gamma=inf", "camia:tau=nan", "camia:tau=inf", "camia:tau=-inf", "dc_pdd:a=inf"])
def test_a_non_finite_parameter_is_refused_before_any_scoring(spec):
    """Issue 27, defect 7: these passed validation, then the run failed while writing its output (exit 3, no output)."""
    with pytest.raises(ValueError, match=r"takes a finite number, not -?(inf|nan)"):
        parse_detector(spec)


def test_a_non_finite_parameter_given_in_python_is_refused_too():
    from llm_mia import InputError
    from llm_mia.pipeline import resolve_detectors

    with pytest.raises(InputError, match="tau takes a finite number, not nan"):
        resolve_detectors([DETECTORS.get("camia")(tau=float("nan"))])


def test_a_parameter_value_with_commas_stays_whole_in_a_detector_list():
    """Issue 27, defect 12: wbc:windows=2,3 could not be written (the comma split --detectors)."""
    from llm_mia.pipeline import detector_specs, resolve_detectors

    assert detector_specs("loss,wbc:windows=2,3,min_k") == ["loss", "wbc:windows=2,3", "min_k"]
    assert detector_specs("wbc:windows=2, 3 ,zlib") == ["wbc:windows=2,3", "zlib"]
    assert [d.key for d in resolve_detectors("wbc:windows=2,3,loss")] == ["wbc:windows=2,3", "loss"]
