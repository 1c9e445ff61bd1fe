"""Fuzz tests of the input readers (issue 9): random bytes, random Unicode (surrogates and
control characters included) and random quoting, in every format llm-mia reads.

The invariant everywhere: no exception but :class:`InputError` (a file refused as a whole),
and otherwise every row accounted for: as many documents as the input has rows, each either
with a text and no error or with the reason it has none, no two usable documents with one id,
and every string valid Unicode (it can be tokenized, written as UTF-8 and printed). Where the
input was written by a correct writer, the texts must also come back exactly.

Hypothesis runs a fixed, derandomized set of examples, so CI sees the same inputs each time.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from llm_mia import read_documents  # noqa: E402
from llm_mia.errors import InputError  # noqa: E402
from llm_mia.strings import printable  # noqa: E402

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
# any code point, lone surrogates and control characters included
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None, exclude_categories=()), max_size=40)
QUOTEY = st.text(alphabet=st.sampled_from(list("ab ,;\"'\t\n\r\\é\x00\x1b\ud800\udcff")), max_size=30)
FIELD = st.one_of(ANY_TEXT, QUOTEY)
WHOLLY_QUOTED = re.compile(r'"((?:[^"]|"")*)"', re.DOTALL)


def _fresh(tmp_path_factory, name: str) -> Path:
    return tmp_path_factory.mktemp("fuzz") / name


def _valid(s: str) -> bool:
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def read_or_refuse(path: Path | str, **kw):
    """The documents, or None when the file is refused as a whole with a message."""
    try:
        docs = read_documents(path, **kw)
    except InputError as exc:
        assert str(exc) and _valid(printable(str(exc)))
        return None
    usable = [d.id for d in docs if d.error is None]
    assert len(usable) == len(set(usable)), "two usable documents share an id"
    for d in docs:
        assert isinstance(d.id, str) and _valid(d.id)
        assert (d.error is None and isinstance(d.text, str)) or (isinstance(d.error, str) and d.error)
        assert d.text is None or _valid(d.text)
        assert d.error is None or _valid(d.error)
        assert d.label in (0, 1, None)
        json.dumps([d.id, d.text, d.error], ensure_ascii=False).encode("utf-8")
    return docs


# -- JSONL and JSON ---------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=300))
def test_jsonl_random_bytes(tmp_path_factory, data):
    path = _fresh(tmp_path_factory, "d.jsonl")
    path.write_bytes(data)
    docs = read_or_refuse(path)
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    lines = [line for line in body.split(b"\n") if line.strip()]
    objects = [o for o in map(_json_or_none, lines) if isinstance(o, dict)]
    if lines and objects and not any("text" in o or "input" in o for o in objects):
        assert docs is None  # objects, none with a text field: the file is refused as a whole, with a message
    elif lines:
        assert docs is not None and len(docs) == len(lines)
    else:
        assert docs is None


def _json_or_none(line: bytes) -> object:
    try:
        return json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | FIELD,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELD, inner, max_size=3),
    max_leaves=6,
)
RECORD = st.fixed_dictionaries(
    {"text": st.one_of(FIELD, JSON_VALUE)},
    optional={"id": st.one_of(FIELD, st.integers(0, 5), st.none()), "label": st.one_of(st.sampled_from([0, 1, "1", "true", 2, None, "x"]), FIELD)},
)


@FUZZ
@given(rows=st.lists(st.one_of(RECORD, FIELD, JSON_VALUE), min_size=1, max_size=8), as_array=st.booleans())
def test_json_values_with_any_unicode(tmp_path_factory, rows, as_array):
    path = _fresh(tmp_path_factory, "d.json" if as_array else "d.jsonl")
    if as_array:
        path.write_text(json.dumps(rows), encoding="ascii")  # \ud800 escapes: valid JSON, lone surrogates in Python
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="ascii")
    docs = read_or_refuse(path)
    if docs is None:
        return  # refused as a whole (e.g. no row has a text field): said with a message
    assert len(docs) == len(rows)
    for row, doc in zip(rows, docs):
        text = row if isinstance(row, str) else row.get("text") if isinstance(row, dict) else None
        if isinstance(text, str):
            text = json.loads(json.dumps(text))  # what JSON means by it: an escaped surrogate pair is one character
        if doc.error is None:
            assert doc.text == text


# -- CSV and TSV ------------------------------------------------------------------------------


@FUZZ
@given(
    rows=st.lists(st.tuples(FIELD, FIELD), min_size=1, max_size=6),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    terminator=st.sampled_from(["\n", "\r\n"]),
)
def test_csv_written_correctly_round_trips(tmp_path_factory, rows, quoting, terminator):
    # Python's writer leaves a bare CR unquoted when the line ends in LF alone: not valid CSV
    assume(terminator == "\r\n" or quoting != csv.QUOTE_MINIMAL or not any("\r" in t for t, _ in rows))
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=quoting, lineterminator=terminator)
    writer.writerow(["id", "text"])
    writer.writerows([[f"r{i}", text] for i, (text, _) in enumerate(rows)])
    path = _fresh(tmp_path_factory, "d.csv")
    path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass"))  # a lone surrogate: invalid UTF-8 bytes
    docs = read_or_refuse(path)
    assert docs is not None and len(docs) == len(rows)
    for (text, _), doc in zip(rows, docs):
        if _valid(text):
            assert doc.error is None and doc.text == text
        else:
            assert doc.text is None and "not valid UTF-8" in doc.error


@FUZZ
@given(data=st.binary(max_size=200), mutation=st.lists(st.tuples(st.integers(0, 200), st.sampled_from(list(b'",\n\r\t\x00\xff'))), max_size=5))
def test_csv_and_tsv_random_bytes(tmp_path_factory, data, mutation):
    raw = bytearray(b'id,text,label\n1,"quoted, text",1\n2,plain,0\n' + data)
    for at, byte in mutation:
        raw.insert(min(at, len(raw)), byte)
    for name in ("d.csv", "d.tsv"):
        path = _fresh(tmp_path_factory, name)
        path.write_bytes(bytes(raw))
        read_or_refuse(path)


@FUZZ
@given(
    texts=st.lists(st.text(alphabet=st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)), max_size=30), min_size=1, max_size=6),
    pandas_style=st.booleans(),
)
def test_tsv_round_trips(tmp_path_factory, texts, pandas_style):
    if pandas_style:  # Python's csv module and pandas quote a field that holds a quote
        buf = io.StringIO()
        csv.writer(buf, delimiter="\t", lineterminator="\n").writerows([["text"]] + [[t] for t in texts])
        body = buf.getvalue()
    else:  # fields as they are; a field wholly in quotes is the one ambiguous case
        texts = [t for t in texts if not WHOLLY_QUOTED.fullmatch(t)] or ["x"]
        body = "text\n" + "".join(t + "\n" for t in texts)
    path = _fresh(tmp_path_factory, "d.tsv")
    path.write_text(body, encoding="utf-8")
    docs = read_or_refuse(path)
    expected = [t for t in texts if t != "" or pandas_style]  # a literal empty line is a blank line
    if not expected:
        assert docs is None  # a header alone: "holds no rows"
        return
    assert docs is not None and [d.text or "" for d in docs] == expected


# -- Parquet ----------------------------------------------------------------------------------


@FUZZ
@given(
    values=st.lists(st.one_of(st.none(), st.text(max_size=20), st.binary(max_size=10), st.integers(-5, 5)), min_size=1, max_size=6),
    labels=st.lists(st.one_of(st.none(), st.integers(-1, 2)), min_size=6, max_size=6),
)
def test_parquet_columns_of_any_type(tmp_path_factory, values, labels):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    kinds = {type(v) for v in values if v is not None}
    if len(kinds) > 1:  # a Parquet column has one type
        values = [v if v is None or isinstance(v, str) else str(v) for v in values]
    table = pa.table({"text": values, "label": labels[: len(values)]})
    path = _fresh(tmp_path_factory, "d.parquet")
    pq.write_table(table, path)
    docs = read_or_refuse(path)
    assert docs is not None and len(docs) == len(values)
    for v, doc in zip(values, docs):
        if doc.error is None:
            assert doc.text == v


def test_parquet_random_bytes(tmp_path):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1" + os.urandom(64))
    assert read_or_refuse(path) is None


# -- folders and EPUB -------------------------------------------------------------------------

FILE_NAME = st.binary(min_size=1, max_size=12).map(lambda b: b.replace(b"/", b"_").replace(b"\x00", b"_")).filter(lambda b: b not in (b".", b".."))
SUFFIX = st.sampled_from([b".txt", b".TXT", b".md", b".jsonl", b".json", b".csv", b".tsv", b".parquet", b".epub", b".pdf", b""])


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    files=st.lists(st.tuples(FILE_NAME, SUFFIX, st.binary(max_size=80), st.sampled_from([b"", b"members/", b"non-members/", b".git/"])), min_size=1, max_size=6)
)
def test_folders_of_random_files(tmp_path_factory, files):
    root = tmp_path_factory.mktemp("folder")
    written = set()
    for name, suffix, content, sub in files:
        os.makedirs(os.fsencode(root) + b"/" + sub, exist_ok=True)
        path = os.fsencode(root) + b"/" + sub + name + suffix
        if os.path.isdir(path):
            continue
        with open(path, "wb") as fh:
            fh.write(content)
        if not (name + suffix).startswith(b".") and not sub.startswith(b"."):
            written.add(os.fsdecode(sub + name + suffix))
    docs = read_or_refuse(root)
    if not written:
        assert docs is None  # only hidden files: "holds no files"
        return
    assert docs is not None
    ids = [d.id for d in docs]
    for rel in written:  # every file is one document or the prefix of its rows' ids
        from llm_mia.strings import safe_id

        rel = safe_id(rel)
        assert rel in ids or any(i.startswith(rel + ":") for i in ids), rel


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(FIELD, min_size=1, max_size=3), junk=st.binary(max_size=40))
def test_epub_with_any_text_and_damaged_epubs(tmp_path_factory, bodies, junk):
    pytest.importorskip("ebooklib")
    from html import escape

    from conftest import build_epub

    folder = tmp_path_factory.mktemp("epub")
    try:
        path = build_epub(folder / "b.epub", [f"<p>{escape(b)}</p>" for b in bodies])
    except Exception:  # ebooklib itself cannot write some texts (lxml refuses control characters)
        path = None
    if path is not None:
        docs = read_or_refuse(path)
        assert docs is None or len(docs) == 1
        damaged = folder / "damaged.epub"
        data = path.read_bytes()
        damaged.write_bytes(data[: len(data) // 2] + junk)
        read_or_refuse(damaged)  # refused, or read with the invariants: never another exception
    raw = folder / "raw.epub"
    raw.write_bytes(junk)
    assert read_or_refuse(raw) is None


# -- from a read text to the scorer -----------------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(texts=st.lists(st.one_of(ANY_TEXT, QUOTEY, st.text(max_size=2000)), min_size=1, max_size=6))
def test_the_scorer_takes_any_string(tiny_lm, texts):
    """Whatever string reaches the scorer (through the Python API, unchecked), each gets
    statistics or the reason it has none; none stops the others."""
    from llm_mia import Scorer, ScorerConfig
    from llm_mia.types import TokenStats, Unscorable

    results = Scorer(tiny_lm, ScorerConfig(max_tokens=32)).score_texts(texts)
    assert len(results) == len(texts)
    for text, r in zip(texts, results):
        assert isinstance(r, (TokenStats, Unscorable))
        if isinstance(r, TokenStats):
            assert 2 <= r.n_tokens <= 32 and r.n_scored == r.n_tokens - 1
        elif _valid(text) and text.strip():
            assert "too short" in r.reason or "tokenizer failed" in r.reason, r.reason
