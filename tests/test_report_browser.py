"""The HTML report in a real headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it):
the page renders, the verdict box shows the caveat, a screenshot is written as a test
artefact (``$LLM_MIA_ARTIFACTS``, else the test's temporary folder), and the page requests
nothing from the network (Chromium's own net log, read for requests the page started)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import random_sentences

from llm_mia.check import CheckSettings, run_check
from llm_mia.check import to_html

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None and not os.environ.get("LLM_MIA_REQUIRE_BROWSER"), reason="no headless Chromium (apt-get install chromium)")
QUIET = [  # the browser's own background traffic off; what is left of it is told apart by its initiator
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-breakpad",
]


def browse(page: Path, *action: str, log: Path) -> str:
    assert BROWSER is not None, "LLM_MIA_REQUIRE_BROWSER is set but no Chromium is installed"
    res = subprocess.run([BROWSER, *QUIET, f"--log-net-log={log}", *action, page.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def page_requests(log: Path) -> set[str]:
    """URLs the page itself asked for (a request started by the browser has no origin)."""
    net = json.loads(log.read_text())
    start = net["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    started = [e.get("params", {}) for e in net["events"] if e["type"] == start]
    return {p["url"] for p in started if "url" in p and p.get("initiator") != "not an origin" and not p["url"].startswith(("file:", "data:"))}


def test_the_report_renders_shows_the_caveat_and_requests_nothing(tiny_lm, tmp_path):
    suspect = random_sentences(12, seed=61)
    reference = random_sentences(12, seed=62)
    res = run_check(suspect, reference, model=tiny_lm, settings=CheckSettings(n_splits=3, n_permutations=99), cache_dir=tmp_path / "c")
    assert res.model_free is not None
    res = dataclasses.replace(
        res, model_free=dataclasses.replace(res.model_free, auroc=0.97, ci=(0.93, 0.99)), collection=dataclasses.replace(res.collection, p_value=0.01)
    )
    page = tmp_path / "report.html"
    page.write_text(to_html(res), encoding="utf-8")

    dom = browse(page, "--dump-dom", log=tmp_path / "net-dom.json")
    # the default (guarded) mode: no calibrated verdict where a classifier tells the sets apart, in the amber box
    assert '<div class="verdict weak">NO CALIBRATED VERDICT: the reference texts are unlike the suspect texts' in dom
    assert page_requests(tmp_path / "net-dom.json") == set()
    # the page as a non-expert reads it (issue 22): the p-value is not the first number and is labelled, the
    # model-free row says what 0.5 means, no "most suspicious" heading under a declined verdict, token
    # probabilities not written as p, and a glossary
    numbers = dom[dom.index("<h2>Numbers</h2>") : dom.index("<h2>What this can")]
    rows = re.findall(r"<tr><th>([^<]+)</th>", numbers)
    assert rows[0] == "model-free check" and "uncalibrated p-value" in rows and "p-value (collection test)" not in rows
    assert "(0.5 = alike)" in numbers and "not a verdict, not evidence of training" in numbers
    assert "Most suspicious" not in dom and "most familiar" in dom and "p &gt;= 0.5" not in dom and "50% or more" in dom
    assert "<h2>Words used in this report</h2>" in dom and "<dt>p-value</dt>" in dom

    shots = Path(os.environ.get("LLM_MIA_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "report-weak-verdict.png"
    browse(page, f"--screenshot={shot}", "--window-size=1200,900", log=tmp_path / "net-shot.json")
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (900, 1200) and pixels.std() > 0.05  # drawn, not blank
    amber = np.array([0xFF, 0xF4, 0xDC]) / 255  # the box of a weak or uncalibrated verdict
    assert (np.abs(pixels - amber).max(axis=-1) < 0.02).sum() > 20_000


def test_the_network_check_sees_a_page_that_does_request(tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><p>control</p><img src="http://127.0.0.1:9/x.png">')
    browse(page, "--dump-dom", log=tmp_path / "net.json")
    assert page_requests(tmp_path / "net.json") == {"http://127.0.0.1:9/x.png"}
