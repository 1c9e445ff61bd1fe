"""The ``check`` and ``demo`` commands (see :mod:`llm_mia.cli` for the exit codes)."""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import math
from pathlib import Path
from typing import cast

from ..check import CHECK_DETECTORS, DEMO_EXCERPT_WORDS, MODES, CheckResult, CheckSettings
from ..errors import LlmMiaError
from ..io import check_output, unused_name, write_text
from ..strings import printable_lines
from .options import FLAGS, POSITIVE, SEED, add_run_options, run_options

CHECK_DEFAULTS = CheckSettings()
DEFAULT_HTML = "check-report.html"
EXAMPLES_CHECK = """examples:
  llm-mia check my_book.txt --reference unpublished_chapters/
  llm-mia check articles/ --reference articles_2025/ --unit document --html report.html
  llm-mia check my_book.txt                # no reference: memorization evidence and scores, no p-value
  llm-mia check my_book.txt --top-k        # also p_z under top-40 sampling
"""


def _check_options(p: argparse.ArgumentParser, excerpt_words: int = CHECK_DEFAULTS.excerpt_words) -> None:
    """Options shared by check and demo."""
    p.add_argument("--excerpt-words", type=POSITIVE, default=excerpt_words, help=f"excerpt length in words for --unit book (default {excerpt_words})")
    p.add_argument("--alpha", type=float, default=CHECK_DEFAULTS.alpha, help=f"significance level of the verdict (default {CHECK_DEFAULTS.alpha})")
    p.add_argument("--splits", type=POSITIVE, default=CHECK_DEFAULTS.n_splits, help=f"random splits of the collection test (default {CHECK_DEFAULTS.n_splits})")
    p.add_argument(
        "--permutations",
        type=POSITIVE,
        default=CHECK_DEFAULTS.n_permutations,
        help=f"permutations calibrating the collection test's p-value; the smallest it can report is 1/(permutations+1) (default {CHECK_DEFAULTS.n_permutations})",
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of the splits and permutations (default 0)")
    p.add_argument(
        "--mode",
        choices=list(MODES),
        default=CHECK_DEFAULTS.mode,
        help="guarded: the exchangeable test, with a verdict only when a classifier without the model finds suspect and reference "
        "texts alike (else no calibrated verdict); exchangeable: permute all labels, assuming both sets are of one kind (where a "
        "classifier tells them apart its verdict reads: a difference, not evidence of training); stratified (experimental): permute within strata of text-only propensity "
        f"(default {CHECK_DEFAULTS.mode})",
    )
    p.add_argument(
        "--no-memorization",
        dest="memorization",
        action="store_false",
        help="skip the memorization evidence (the whole texts cut into extraction windows: about as long again as the rest of a check)",
    )
    p.add_argument(
        "--window-prefix",
        type=POSITIVE,
        default=CHECK_DEFAULTS.window_prefix,
        help=f"tokens the model is given before each passage (default {CHECK_DEFAULTS.window_prefix})",
    )
    p.add_argument(
        "--window-suffix",
        type=POSITIVE,
        default=CHECK_DEFAULTS.window_suffix,
        help=f"tokens of each passage it must reproduce; windows step by it (default {CHECK_DEFAULTS.window_suffix})",
    )
    p.add_argument(
        "--top-k",
        type=POSITIVE,
        nargs="?",
        const=40,
        default=None,
        help="also p_z under top-k sampling (K default 40, as Cooper et al. 2025); one more pass over the windows, on backends that give it exactly (else refused)",
    )
    p.add_argument(
        "--html",
        default=None,
        help=f"HTML report (default: {DEFAULT_HTML}, or {Path(DEFAULT_HTML).stem}-2.html, ... where that exists; '' for none)",
    )
    p.add_argument("--force", action="store_true", help="replace report files named by --html or --json that already exist (default: stop with an error)")
    p.add_argument("--json", default=None, help="also write the full result as JSON here")
    add_run_options(p, what="texts", default_detectors=CHECK_DETECTORS)


def add_check_parsers(sub) -> None:  # type: ignore[no-untyped-def]
    """The ``check`` and ``demo`` subcommands."""
    ch = sub.add_parser(
        "check",
        help="was this book, collection or document in the training data? (p-values, HTML report)",
        epilog=EXAMPLES_CHECK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Test suspect texts against reference texts known not to be in the training data. "
        "INPUT and --reference: .txt/.md (a book: cut into excerpts), .epub (needs the 'epub' extra), "
        "a folder of texts, .jsonl/.csv/.parquet.",
    )
    ch.add_argument("input", help="the suspect book, folder or file")
    ch.add_argument("--reference", default=None, help="known non-members of the same kind (without them no p-value is claimed)")
    ch.add_argument(
        "--unit", choices=["book", "document"], default=None, help="book: cut texts into excerpts; document: each text as is (default: book for one text file)"
    )
    ch.add_argument(
        "--drop-overlap", action="store_true", help="leave out suspect texts that share 13+ words with a reference text (default: stop with an error)"
    )
    ch.add_argument(
        "--keep-boilerplate",
        action="store_true",
        help="keep Project Gutenberg's header and licence in the texts (default: removed, as every Gutenberg book carries them)",
    )
    ch.add_argument("--text-field", default=None, help="text field of JSONL/CSV input (default: text, else input)")
    _check_options(ch)
    ch.set_defaults(func=_cmd_check)

    de = sub.add_parser(
        "demo",
        help="a worked check: Python's standard library (member) against llm-mia's own 2026 code (non-member)",
        description="Writes the demo texts to --dir and runs llm-mia check on them (see llm_mia/demo.py); the HTML report goes to DIR/check-report.html unless --html names another file.",
    )
    de.add_argument("--dir", default="llm-mia-demo", help="where to write the demo texts (default: llm-mia-demo)")
    _check_options(de, excerpt_words=DEMO_EXCERPT_WORDS)
    de.set_defaults(func=_cmd_demo)


def _cmd_check(args: argparse.Namespace) -> int:
    return _check(args)[0]


def _check(args: argparse.Namespace) -> tuple[int, CheckResult]:
    """Run the check of ``args``, write its reports and print its summary: the exit code and the result."""
    from ..check import run_check, summary, to_html, to_json
    from ..types import STATUS_OK, held_out

    model, options = run_options(args)
    settings = CheckSettings(
        unit=args.unit,
        excerpt_words=args.excerpt_words,
        detectors=None if options.detectors is None else tuple(cast("list[str]", options.detectors)),  # --detectors: names
        alpha=args.alpha,
        n_splits=args.splits,
        n_permutations=args.permutations,
        seed=args.seed,
        drop_overlap=args.drop_overlap,
        keep_boilerplate=args.keep_boilerplate,
        mode=args.mode,
        memorization=args.memorization,
        window_prefix=args.window_prefix,
        window_suffix=args.window_suffix,
        top_k=args.top_k,
    )
    replaceable: set[str] = getattr(args, "replaceable", set())
    if args.html is None:  # a name the user did not give: never stops a re-run, never replaces an earlier report
        args.html = str(unused_name(DEFAULT_HTML))
    for out in (args.html, args.json):  # fail before the run, not after it
        if out:
            check_output(out, inputs=[args.input, args.reference], force=args.force or out in replaceable, what="report")
            if not Path(out).expanduser().parent.is_dir():
                raise LlmMiaError(f"cannot write {out}: folder {Path(out).parent} does not exist")
    if args.html and args.json and Path(args.html).expanduser().resolve() == Path(args.json).expanduser().resolve():
        raise LlmMiaError("--html and --json name the same file")
    result = run_check(args.input, args.reference, model=model, settings=settings, text_field=args.text_field, options=replace(options, detectors=None))
    if args.html:
        write_text(args.html, to_html(result, FLAGS), replace=args.force or args.html in replaceable, make_parents=False)
    if args.json:
        write_text(args.json, json.dumps(to_json(result, FLAGS), indent=2, ensure_ascii=False), replace=args.force, make_parents=False)
    print(printable_lines(summary(result, args.html or None, FLAGS)))
    skipped = [r for r in result.suspect + result.reference if r.status != STATUS_OK and not held_out(r)]
    return (1 if skipped else 0), result


DEMO_ABOUT = """
About this demo: the suspect texts are modules of Python's standard library, copied from this
installation; CPython is on GitHub in countless copies, so they are almost certainly in the
model's training data. The reference texts are a snapshot of llm-mia's own source code, written
in 2026, after the embedded models were trained, so certainly not. Their membership is known,
but they are not of the same kind (authors, decades, topics), and the model-free line shows it:
a classifier that never sees the model tells them apart. So the check gives no calibrated
verdict: the p-value would agree with the truth here, yet it could come from that difference as
much as from training (on texts no model has seen, such differences alone gave p < 0.05 in up
to 40 of 40 draws; benchmarks/CHECK_VALIDITY.md). That is the lesson of the demo: a real check
needs reference texts of the same kind as the suspect ones, and the model-free line says when
they are not."""
DEMO_MEMORIZED = """

The memorization lines need no reference texts. Here the model reproduces some passages of
the suspect texts word for word from their prefixes, far more readily than after other
passages' prefixes: evidence of training on them (or on copies of them)."""
DEMO_NOT_MEMORIZED = """

The memorization lines need no reference texts. Here {model} reproduces no {suffix}-token
passage of the suspect texts word for word with p_z >= 1e-4 (the likeliest: p_z = {best:.2g}),
though it has surely seen them: small models memorize little. So the lines say "no memorized
text found", which is not "not trained on"."""


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..check import write_demo_texts

    args.input, args.reference = (str(p) for p in write_demo_texts(args.dir))
    args.unit, args.drop_overlap, args.keep_boilerplate, args.text_field = "book", False, False, None
    if args.html is None:  # the demo's own report lives in (and is remade with) its folder
        args.html = str(Path(args.dir) / DEFAULT_HTML)
        args.replaceable = {args.html}
    code, result = _check(args)
    ev = result.memorization
    if ev is None:
        print(DEMO_ABOUT)
    elif ev.found:
        print(DEMO_ABOUT + DEMO_MEMORIZED)
    else:
        best = math.exp(ev.passages[0].log_pz) if ev.passages else 0.0
        print(DEMO_ABOUT + DEMO_NOT_MEMORIZED.format(model=result.model, suffix=ev.settings.suffix, best=best))
    return code
