"""The ``marks`` commands: make a manifest of marks, place the published ones in a text, test a model."""

from __future__ import annotations

import argparse
import json
import sys

from ..backends import DEFAULT_MODEL
from ..errors import InputError
from ..io import check_output, read_text, write_text
from ..marks import (
    DESIGNS,
    DEFAULT_DRAWS,
    insert_marks,
    load_manifest,
    make_marks,
    mark_html,
    mark_json,
    mark_summary,
    mark_test,
    missing_marks,
    published_texts,
    save_manifest,
)
from ..strings import printable, printable_lines
from .options import POSITIVE, SEED, add_load_options, add_run_options, run_options

EXAMPLES = """examples (before the release: make, insert, publish; later: test):
  llm-mia marks make -o marks.json                       # 512 candidate marks, 256 to publish
  llm-mia marks insert book.txt -o book.marked.txt --marks marks.json --repeat 4
  llm-mia marks insert --list --marks marks.json          # place them by hand instead
  llm-mia marks test marks.json --model gemma3-270m --html marks-report.html
"""
SECRET = (
    "KEEP {path} SECRET: it names the secret marks the test compares with, and the seed that chose which to publish. "
    "Publish or timestamp its commitment now, so that the manifest can later be shown to predate a model:\n  {commitment}"
)


def add_marks_parsers(sub: argparse._SubParsersAction) -> None:
    ma = sub.add_parser(
        "marks",
        help="canaries for a work before its release: make, insert, and test them later with an exact p-value",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Marks: random texts placed in a work before it is published. Half of the candidates are published, the "
        "others kept secret; a model that trained on the work finds the published ones more familiar, and the p-value of "
        "that comparison is exact by design.",
    )
    msub = ma.add_subparsers(dest="marks_command", required=True)
    mk = msub.add_parser("make", help="draw candidate marks from a secret seed and choose which to publish")
    mk.add_argument("-o", "--output", required=True, help="the manifest (JSON; written readable by you only, never over an existing file)")
    mk.add_argument(
        "--design",
        choices=list(DESIGNS),
        default="words",
        help="words: random vocabulary words; chars: random letters and digits; sentences: sampled from --model (default words)",
    )
    mk.add_argument("--marks", type=POSITIVE, default=512, help="candidate marks (default 512)")
    mk.add_argument("--publish", type=POSITIVE, default=None, help="how many of them to publish, chosen at random (default: half)")
    mk.add_argument("--length", type=POSITIVE, default=32, help="tokens per mark, of --model's tokenizer (default 32)")
    mk.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"the tokenizer that measures the length, and the model that writes sentences (default {DEFAULT_MODEL})"
    )
    mk.add_argument("--seed", default=None, help="a hexadecimal seed (default: 128 fresh random bits; a seed you choose is only as secret as you keep it)")
    add_load_options(mk)
    mk.set_defaults(func=_cmd_make)

    ins = msub.add_parser("insert", help="place the published marks in a text (or list them)")
    ins.add_argument("document", nargs="?", help="the text to mark (never changed)")
    ins.add_argument("-o", "--output", default=None, help="the marked text (a new file)")
    ins.add_argument("--marks", required=True, help="the manifest")
    ins.add_argument("--repeat", type=POSITIVE, default=1, help="copies of each published mark (default 1)")
    ins.add_argument("--list", action="store_true", help="print the published marks, one per line, to place by hand")
    ins.add_argument("--force", action="store_true", help="replace the output file if it exists (never the input)")
    ins.set_defaults(func=_cmd_insert)

    te = msub.add_parser("test", help="does a model find the published marks more familiar than the secret ones? (exact p-value)")
    te.add_argument("manifest", help="the manifest")
    te.add_argument("--text", default=None, help="the published (marked) text: checked to hold every published mark before the test")
    te.add_argument(
        "--commitment",
        default=None,
        help="the commitment you published when the marks were made (hex): the manifest must be the one it names",
    )
    te.add_argument("--alpha", type=float, default=0.05, help="significance level of the verdict (default 0.05)")
    te.add_argument(
        "--draws",
        type=POSITIVE,
        default=DEFAULT_DRAWS,
        help=f"random choices of the Monte Carlo p-value where there are too many to count (default {DEFAULT_DRAWS})",
    )
    te.add_argument("--seed", type=SEED, default=0, help="seed of the Monte Carlo draws (default 0)")
    te.add_argument("--json", default=None, help="also write the result as JSON here")
    te.add_argument("--html", default=None, help="also write an HTML report here")
    te.add_argument("--force", action="store_true", help="replace report files that exist")
    add_run_options(te, what="marks")
    te.set_defaults(func=_cmd_test)


def _cmd_make(args: argparse.Namespace) -> int:
    from ..backends import get_model
    from ..scoring import ScorerConfig, as_backend

    target = check_output(args.output, what="mark manifest", force=True)  # the folder and the path; an existing file is refused below, before any work
    if target.exists():
        raise InputError(
            f"{printable(str(target))} already exists: a manifest is never replaced (it is the only record of the secret marks); choose another path"
        )
    publish = args.publish if args.publish is not None else args.marks // 2
    backend = as_backend(get_model(args.model, device=args.device, dtype=args.dtype, trust_remote_code=args.trust_remote_code), ScorerConfig())
    manifest = make_marks(backend, design=args.design, n_marks=args.marks, n_published=publish, length=args.length, seed=args.seed)
    save_manifest(manifest, target)
    print(f"{printable(str(target))}: {len(manifest.marks)} {manifest.design} marks of about {manifest.length} tokens, {len(manifest.published)} to publish")
    print(SECRET.format(path=printable(str(target)), commitment=manifest.commitment), file=sys.stderr)
    return 0


def _cmd_insert(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.marks)
    if args.list:
        for text in published_texts(manifest):
            print(printable(text))
        return 0
    if not args.document or not args.output:
        raise InputError("marks insert needs a DOCUMENT and -o OUTPUT (or --list)")
    check_output(args.output, inputs=[args.document, args.marks], force=args.force, what="marked text")
    text = read_text(args.document)
    marked = insert_marks(text, manifest, repeat=args.repeat)
    write_text(args.output, marked, replace=args.force)
    print(
        f"{printable(args.output)}: {len(manifest.published)} published marks, {args.repeat} time(s) each, placed between paragraphs of {printable(args.document)}"
    )
    return 0


def _cmd_test(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.manifest, commitment=args.commitment)
    if args.text:
        lost = missing_marks(read_text(args.text), manifest)
        if lost:
            raise InputError(
                f"{printable(args.text)} lacks {len(lost)} of the {len(manifest.published)} published marks (e.g. mark {lost[0]}): "
                "it is not the marked text, or it was edited after the marks were placed"
            )
    for out in (args.json, args.html):
        if out:
            check_output(out, inputs=[args.manifest, args.text], force=args.force, what="report")
    model, options = run_options(args)
    result = mark_test(manifest, model, alpha=args.alpha, n_draws=args.draws, seed=args.seed, options=options)
    if args.json:
        write_text(args.json, json.dumps(mark_json(result, manifest), indent=2, ensure_ascii=False), replace=args.force)
    if args.html:
        write_text(args.html, mark_html(result, manifest), replace=args.force)
    print(printable_lines(mark_summary(result, manifest, printable(args.manifest))))
    return 0
