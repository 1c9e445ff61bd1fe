"""The ``freq`` command: token frequency tables for DC-PDD (see :mod:`llm_mia.io.freq_tables`)."""

from __future__ import annotations

import argparse

from ..backends import DEFAULT_MODEL
from ..io import DEFAULT_MAX_TOKENS, build_table, check_output, save_table, texts_of
from ..progress import Progress
from ..strings import printable
from .options import POSITIVE

EXAMPLES_FREQ = """examples:
  llm-mia freq build web_corpus.jsonl --model smollm2-135m -o smollm2.freq.json
  llm-mia freq build corpus_folder/ more.jsonl --model gemma3-270m -o gemma3.freq.json
  llm-mia score data.jsonl -o s.jsonl --detectors loss,dc_pdd:table=smollm2.freq.json
"""


def add_freq_parsers(sub: argparse._SubParsersAction) -> None:
    fr = sub.add_parser("freq", help="token frequency tables (for the dc_pdd detector)")
    fsub = fr.add_subparsers(dest="freq_command", required=True)
    b = fsub.add_parser(
        "build",
        help="count the tokens of a corpus with a model's tokenizer",
        description="Count how often each token of MODEL's tokenizer occurs in CORPUS (files or folders, any format llm-mia score reads) "
        "and store the table with the tokenizer's identity; dc_pdd refuses it for a model that tokenizes differently. "
        "Use ordinary text of the kind the model was trained on, and none of the texts you will test.",
        epilog=EXAMPLES_FREQ,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("corpus", nargs="+", help="files or folders of text")
    b.add_argument("-o", "--output", required=True, help="the table (JSON)")
    b.add_argument("--model", default=DEFAULT_MODEL, help=f"the model whose tokenizer counts (default: {DEFAULT_MODEL}); only the tokenizer loads")
    b.add_argument(
        "--max-tokens", type=POSITIVE, default=DEFAULT_MAX_TOKENS, help=f"tokens counted per document, from its start (default {DEFAULT_MAX_TOKENS})"
    )
    b.add_argument("--text-field", default=None, help="the text field of JSONL/CSV rows (default: text, or input)")
    b.add_argument("--trust-remote-code", action="store_true", help="allow code from a model repository to run (off by default)")
    b.add_argument("--revision", default=None, help="a hub model's branch, tag or commit; same as --model org/name@REVISION")
    b.add_argument("--force", action="store_true", help="replace the table if it exists")
    b.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    b.set_defaults(func=_cmd_freq_build)


def _cmd_freq_build(args: argparse.Namespace) -> int:
    from ..backends import load_tokenizer, with_revision

    check_output(args.output, inputs=args.corpus, force=args.force, what="frequency table")
    texts, skipped = texts_of(args.corpus, text_field=args.text_field)
    source = load_tokenizer(with_revision(args.model, args.revision), trust_remote_code=args.trust_remote_code, progress=not args.no_progress)
    with Progress(len(texts), "counting tokens", unit="doc", enabled=not args.no_progress) as bar:
        table = build_table(texts, source, max_tokens=args.max_tokens, spec=args.model, corpus=" ".join(args.corpus), progress=bar.update)
    save_table(table, args.output, replace=args.force)
    print(
        f"{printable(args.output)}: {table.n_tokens:,} tokens from {table.n_documents:,} documents "
        f"({int((table.counts > 0).sum()):,} of {table.vocab_size:,} token ids seen), tokenizer of {printable(args.model)}"
        + (f"; {skipped} row(s) without text skipped" if skipped else "")
    )
    return 0
