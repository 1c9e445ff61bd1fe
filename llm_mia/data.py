"""Read documents from JSONL, CSV, Parquet, a folder of .txt files, or JSONL on stdin.

Per-row problems (missing text, bad label, undecodable bytes, invalid JSON, duplicate id)
do not stop the run: the row becomes a :class:`Document` with ``error`` set, which the
pipeline reports as skipped. Problems with the source as a whole raise :class:`InputError`.

Fields: the text is ``text_field`` (default: ``text``, else ``input``, WikiMIA's name);
a JSONL line that is a bare JSON string is taken as the text (MIMIR's files). Labels are
1 = member, 0 = non-member; accepted spellings: 0/1, true/false, "0"/"1". In a folder of
.txt files, a file under a folder named ``member(s)`` is labelled 1 and under
``nonmember(s)``/``non-member(s)`` 0.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InputError
from .types import Document

DEFAULT_TEXT_FIELDS = ("text", "input")
_MEMBER_DIRS = {"member", "members"}
_NONMEMBER_DIRS = {"nonmember", "nonmembers", "non-member", "non-members", "non_member", "non_members"}


def read_documents(
    source: str | Path,
    *,
    text_field: str | None = None,
    label_field: str = "label",
    id_field: str | None = None,
) -> list[Document]:
    """All documents of ``source`` in input order (see the module docstring)."""
    if str(source) == "-":
        rows = _jsonl_rows(sys.stdin.buffer, "<stdin>")
        return _to_documents(rows, text_field, label_field, id_field, "<stdin>")
    path = Path(source).expanduser()
    if not path.exists():
        raise InputError(f"input {str(source)!r} does not exist")
    if path.is_dir():
        return _read_text_folder(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        with path.open("rb") as fh:
            return _to_documents(_jsonl_rows(fh, path.name), text_field, label_field, id_field, path.name)
    if suffix in (".csv", ".tsv"):
        return _to_documents(_csv_rows(path, "\t" if suffix == ".tsv" else ","), text_field, label_field, id_field, path.name)
    if suffix == ".parquet":
        return _to_documents(_parquet_rows(path), text_field, label_field, id_field, path.name)
    if suffix in (".txt", ".md"):
        return _read_text_files([path], path.parent)
    raise InputError(
        f"cannot read {path.name!r}: use .jsonl, .csv, .tsv, .parquet, .txt, a folder of .txt files, or - for stdin"
    )


def parse_label(value: Any) -> int | None:
    """0/1 from the accepted spellings; None for a missing label; ValueError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return 1 if value.strip().lower() in ("1", "true") else 0
    raise ValueError(f"invalid label {value!r} (expected 0 = non-member or 1 = member)")


# -- row sources: each yields (row number, dict or error string) ---------------------------


def _jsonl_rows(fh: io.BufferedIOBase | Any, name: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield number, f"line {number} of {name} is not valid UTF-8 (byte {exc.start})"
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"line {number} of {name} is not valid JSON ({exc.msg})"
            continue
        if isinstance(obj, str):
            obj = {"text": obj}
        if not isinstance(obj, dict):
            yield number, f"line {number} of {name} is a JSON {type(obj).__name__}, not an object or a string"
            continue
        yield number, obj


def _csv_rows(path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    data = path.read_bytes().decode("utf-8-sig", errors="surrogateescape")
    csv.field_size_limit(sys.maxsize)
    reader = csv.DictReader(io.StringIO(data, newline=""), delimiter=delimiter)
    for number, row in enumerate(reader, start=2):  # line 1 is the header
        if any(isinstance(v, str) and _has_surrogates(v) for v in row.values()):
            yield number, f"row {number} of {path.name} is not valid UTF-8"
            continue
        yield number, row


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise InputError(f"cannot read Parquet file {path.name}: {exc}") from exc
    for number, row in enumerate(table.to_pylist(), start=1):
        yield number, row


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


# -- rows -> documents -----------------------------------------------------------------------


def _to_documents(
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    text_field: str | None,
    label_field: str,
    id_field: str | None,
    name: str,
) -> list[Document]:
    rows = list(rows)
    dict_rows = [r for _, r in rows if isinstance(r, dict)]
    fields = [text_field] if text_field else list(DEFAULT_TEXT_FIELDS)
    present = [f for f in fields if any(f in r for r in dict_rows)]
    if dict_rows and not present:
        seen = sorted({k for r in dict_rows for k in r})
        raise InputError(
            f"no row of {name} has a text field {' or '.join(repr(f) for f in fields)}; "
            f"fields found: {', '.join(seen) or 'none'}. Choose one with --text-field"
        )
    if not rows:
        raise InputError(f"{name} holds no rows")
    if id_field and dict_rows and not any(id_field in r for r in dict_rows):
        raise InputError(f"no row of {name} has the id field {id_field!r}; fields found: {', '.join(sorted({k for r in dict_rows for k in r}))}")
    use_id = id_field if id_field else ("id" if any("id" in r for r in dict_rows) else None)
    docs: list[Document] = []
    for index, (number, row) in enumerate(rows):
        if isinstance(row, str):
            docs.append(Document(id=str(index), text=None, error=row))
            continue
        doc_id = str(row[use_id]) if use_id and row.get(use_id) is not None else str(index)
        error = None
        if use_id and row.get(use_id) is None:
            error = f"row {number}: missing id field {use_id!r}"
        text = next((row[f] for f in present if row.get(f) is not None), None)
        if text is None:
            error = error or f"row {number}: missing text field {' / '.join(repr(f) for f in fields)}"
        elif not isinstance(text, str):
            error, text = error or f"row {number}: text field is a {type(text).__name__}, not a string", None
        try:
            label = parse_label(row.get(label_field))
        except ValueError as exc:
            label, error = None, error or f"row {number}: {exc}"
        docs.append(Document(id=doc_id, text=text, label=label, error=error))
    return mark_duplicates(docs)


def mark_duplicates(docs: list[Document]) -> list[Document]:
    """Give every document after the first with the same id an error (never a silent drop)."""
    first: dict[str, int] = {}
    out: list[Document] = []
    for i, doc in enumerate(docs):
        if doc.id in first and doc.error is None:
            doc = Document(doc.id, doc.text, doc.label, f"duplicate id {doc.id!r} (first at document {first[doc.id]})")
        first.setdefault(doc.id, i)
        out.append(doc)
    return out


def _read_text_folder(folder: Path) -> list[Document]:
    files = sorted(p for p in folder.rglob("*.txt") if p.is_file())
    if not files:
        raise InputError(f"folder {str(folder)!r} holds no .txt files")
    return _read_text_files(files, folder)


def _read_text_files(files: list[Path], root: Path) -> list[Document]:
    docs = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        label = _label_from_path(path.relative_to(root))
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            docs.append(Document(rel, None, label, f"{rel} is not valid UTF-8 (byte {exc.start})"))
            continue
        docs.append(Document(rel, text, label))
    return docs


def _label_from_path(rel: Path) -> int | None:
    for part in reversed(rel.parts[:-1]):
        if part.lower() in _MEMBER_DIRS:
            return 1
        if part.lower() in _NONMEMBER_DIRS:
            return 0
    return None


def fingerprint(documents: Iterable[Document]) -> str:
    """sha256 over ids, labels and texts, in order: changes whenever the data does."""
    digest = hashlib.sha256()
    for d in documents:
        digest.update(json.dumps([d.id, d.label, d.text], ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as JSON lines, atomically (a temporary file renamed into place)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
    tmp.replace(target)
