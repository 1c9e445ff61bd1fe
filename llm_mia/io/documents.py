"""Read documents from JSONL, JSON, CSV, TSV, Parquet, text files, EPUB, a folder of any of
these, or JSONL on stdin.

Every input row becomes one :class:`Document`, in input order. A row that cannot be used
(missing text, bad label, undecodable bytes, a lone surrogate, invalid JSON, a duplicate id)
becomes a document with ``error`` set, which the pipeline reports as skipped: nothing is
dropped silently. Problems with a source as a whole raise :class:`InputError` before any
model is loaded (see :mod:`llm_mia.io.readers` for each format's rules).

Fields: the text is ``text_field`` (default: ``text``, else ``input``, WikiMIA's name);
a JSONL line that is a bare JSON string is taken as the text (MIMIR's files). Labels are
``label_field`` (default: ``label`` where present), 1 = member, 0 = non-member; accepted
spellings: 0/1, true/false, "0"/"1". Ids are ``id_field`` (default: ``id`` where present,
else the row's index); a row without a usable id gets a stand-in (``line-7``) that no real
id of the file takes.

A folder is read recursively, in sorted order: ``.txt`` and ``.md`` files (any case) are one
document each, with the relative path as id; tables and EPUB books are read as above, ids
``<relative path>:<id>``; a file that cannot be read, or of another type, is a document with
the reason. Hidden files and folders (names starting with ".") are ignored. Under a folder
named ``member(s)`` a document without a label of its own is labelled 1, under
``nonmember(s)``/``non-member(s)`` 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..strings import printable, safe_id, surrogate_problem
from ..types import Document, Reason
from .readers import Row, csv_rows, json_rows, jsonl_rows, parquet_rows, tsv_rows

DEFAULT_TEXT_FIELDS = ("text", "input")
DEFAULT_LABEL_FIELD = "label"
TEXT_SUFFIXES = (".txt", ".md")
TABLE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet")
BOOK_SUFFIXES = (".epub",)
_MEMBER_DIRS = {"member", "members"}
_NONMEMBER_DIRS = {"nonmember", "nonmembers", "non-member", "non-members", "non_member", "non_members"}
_SUPPORTED = "a .jsonl, .json, .csv, .tsv, .parquet, .txt, .md or .epub file, a folder of them, or - for JSONL on stdin"


def read_documents(
    source: str | Path,
    *,
    text_field: str | None = None,
    label_field: str | None = None,
    id_field: str | None = None,
) -> list[Document]:
    """All documents of ``source`` in input order (see the module docstring)."""
    fields = dict(text_field=text_field, label_field=label_field, id_field=id_field)
    if str(source) == "-":
        return _to_documents(jsonl_rows(sys.stdin.buffer, "<stdin>"), name="<stdin>", **fields)
    path = Path(source).expanduser()
    if not path.exists():
        raise InputError(f"input {str(source)!r} does not exist")
    if path.is_dir():
        return _read_folder(path, **fields)
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return [_text_file(path, path.name)]
    if suffix in BOOK_SUFFIXES:
        from .epub import read_epub

        return [read_epub(path)]
    if suffix in TABLE_SUFFIXES:
        return _to_documents(_table_rows(path), name=path.name, **fields)
    raise InputError(f"cannot read {safe_id(path.name)!r}: use {_SUPPORTED}")


def texts_of(sources: Sequence[str | Path], *, text_field: str | None = None) -> tuple[list[str], int]:
    """The texts of every document in ``sources`` (files or folders, as :func:`read_documents`
    reads them) and how many rows gave no text (skipped, counted)."""
    texts, skipped = [], 0
    for source in sources:
        for doc in read_documents(source, text_field=text_field):
            if doc.error is None and doc.text:
                texts.append(doc.text)
            else:
                skipped += 1
    return texts, skipped


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
    raise ValueError(f"invalid label {safe_id(repr(value))} (expected 0 = non-member or 1 = member)")


def _table_rows(path: Path) -> Iterator[Row]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with path.open("rb") as fh:
            yield from jsonl_rows(fh, safe_id(path.name))
    elif suffix == ".json":
        yield from json_rows(path)
    elif suffix == ".csv":
        yield from csv_rows(path)
    elif suffix == ".tsv":
        yield from tsv_rows(path)
    else:
        yield from parquet_rows(path)


# -- rows -> documents -----------------------------------------------------------------------


def _to_documents(
    rows: Iterable[Row],
    *,
    name: str,
    text_field: str | None,
    label_field: str | None,
    id_field: str | None,
) -> list[Document]:
    rows = list(rows)
    name = safe_id(name)
    if not rows:
        raise InputError(f"{name} holds no rows")
    dict_rows = [r for _, r in rows if isinstance(r, dict)]
    found = ", ".join(sorted({safe_id(str(k)) for r in dict_rows for k in r})) or "none"
    fields = [text_field] if text_field else list(DEFAULT_TEXT_FIELDS)
    present = [f for f in fields if any(f in r for r in dict_rows)]
    if dict_rows and not present:
        raise InputError(f"no row of {name} has a text field {' or '.join(repr(f) for f in fields)}; fields found: {found}. Choose one with --text-field")
    for kind, field in (("id", id_field), ("label", label_field)):
        if field and dict_rows and not any(field in r for r in dict_rows):
            raise InputError(f"no row of {name} has the {kind} field {field!r} (--{kind}-field); fields found: {found}")
    use_id = id_field or ("id" if any("id" in r for r in dict_rows) else None)
    use_label = label_field or DEFAULT_LABEL_FIELD
    taken = {safe_id(str(r[use_id])) for r in dict_rows if use_id and r.get(use_id) is not None}
    docs: list[Document] = []
    for index, (where, row) in enumerate(rows):
        if use_id and (isinstance(row, str) or row.get(use_id) is None):
            doc_id = _stand_in(where, taken)
        else:
            doc_id = safe_id(str(row[use_id])) if use_id else str(index)  # type: ignore[index]
        if isinstance(row, str):
            docs.append(Document(doc_id, None, None, Reason("bad_row", row)))
            continue
        docs.append(_row_document(doc_id, row, where, fields, present, use_id, use_label))
    return mark_duplicates(docs)


def _stand_in(where: str, taken: set[str]) -> str:
    """An id for a row without one ("line-7"), distinct from every id in the file."""
    base = candidate = where.replace(" ", "-")
    k = 2
    while candidate in taken:
        candidate, k = f"{base}~{k}", k + 1
    taken.add(candidate)
    return candidate


def _row_document(doc_id: str, row: dict[str, Any], where: str, fields: list[str], present: list[str], use_id: str | None, use_label: str) -> Document:
    error = Reason("missing_id", f"{where}: missing id field {use_id!r}") if use_id and row.get(use_id) is None else None
    text = next((row[f] for f in present if row.get(f) is not None), None)
    if text is None:
        error = error or Reason("missing_text", f"{where}: missing text field {' / '.join(repr(f) for f in fields)}")
    elif not isinstance(text, str):
        error, text = error or Reason("not_text", f"{where}: text field is a {type(text).__name__}, not a string"), None
    elif (problem := surrogate_problem(text)) is not None:
        error, text = error or Reason("invalid_unicode", f"{where}: {problem}"), None
    try:
        label = parse_label(row.get(use_label))
    except ValueError as exc:
        label, error = None, error or Reason("bad_label", f"{where}: {exc}")
    return Document(id=doc_id, text=text, label=label, error=error)


def as_documents(items: Iterable[Any]) -> list[Document]:
    """Texts given in memory as Documents: a Document as it is, a string as ``Document(str(i),
    text)`` (ids "0", "1", ...); anything else is an :class:`InputError`."""
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Document):
            out.append(item)
        elif isinstance(item, str):
            out.append(Document(str(i), item))
        else:
            raise InputError(f"item {i} of the texts is a {type(item).__name__}, not a string or a Document")
    return out


def mark_duplicates(docs: list[Document]) -> list[Document]:
    """Give every document after the first with the same id an error (never a silent drop)."""
    first: dict[str, int] = {}
    out: list[Document] = []
    for i, doc in enumerate(docs):
        if doc.id in first and doc.error is None:
            doc = Document(doc.id, doc.text, doc.label, Reason("duplicate_id", f"duplicate id {doc.id!r} (first at document {first[doc.id]})"))
        first.setdefault(doc.id, i)
        out.append(doc)
    return out


# -- text files and folders ----------------------------------------------------------------


def _read_folder(folder: Path, **fields: str | None) -> list[Document]:
    entries = _walk(folder)
    if not entries:
        raise InputError(f"folder {safe_id(str(folder))!r} holds no files")
    docs: list[Document] = []
    for rel_path, problem in entries:
        path = folder / rel_path
        rel = safe_id(rel_path.as_posix())
        label = _label_from_path(rel_path)
        suffix = path.suffix.lower()
        if problem is not None:
            docs.append(Document(rel, None, label, problem))
        elif suffix in TEXT_SUFFIXES:
            docs.append(_labelled(_text_file(path, rel), label))
        elif suffix not in TABLE_SUFFIXES + BOOK_SUFFIXES:
            kinds = ", ".join(TEXT_SUFFIXES + TABLE_SUFFIXES + BOOK_SUFFIXES)
            docs.append(Document(rel, None, label, Reason("unsupported_file", f"not a file type llm-mia reads ({kinds})")))
        else:
            docs.extend(_labelled(d, label) for d in _read_inner(path, rel, fields))
    return mark_duplicates(docs)


def _walk(folder: Path) -> list[tuple[Path, str | None]]:
    """Every entry below ``folder`` that is not a folder, as (relative path, problem), in
    sorted order: a regular file has no problem; anything else (a broken link, a link to a
    folder, a FIFO, a folder that cannot be read) is listed with the reason it is not read.
    Hidden entries (names starting with ".") are left out."""
    found: list[tuple[Path, str | None]] = []

    def unreadable(exc: OSError) -> None:
        found.append((Path(os.path.relpath(exc.filename, folder)), Reason("unreadable", f"folder cannot be read ({exc.strerror or exc})")))

    for top, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        here = Path(top)
        for name in files + [d for d in dirs if (here / d).is_symlink()]:
            if name.startswith("."):
                continue
            path = here / name
            problem = None
            if path.is_symlink() and not path.exists():
                problem = Reason("unsupported_file", "a broken symbolic link")
            elif path.is_dir():
                problem = Reason("unsupported_file", "a link to a folder (not followed)")
            elif not path.is_file():
                problem = Reason("unsupported_file", "not a regular file (a pipe, socket or device)")
            found.append((path.relative_to(folder), problem))
    return sorted(found, key=lambda e: e[0].as_posix())


def _read_inner(path: Path, rel: str, fields: dict[str, str | None]) -> list[Document]:
    """The documents of a table or book found in a folder; a file that cannot be read is one
    document with the reason."""
    try:
        if path.suffix.lower() in BOOK_SUFFIXES:
            from .epub import read_epub

            return [Document(rel, d.text, d.label, d.error) for d in [read_epub(path)]]
        return [Document(f"{rel}:{d.id}", d.text, d.label, d.error) for d in _to_documents(_table_rows(path), name=rel, **fields)]
    except InputError as exc:
        return [Document(rel, None, None, Reason("unreadable", str(exc) if rel in str(exc) else f"{rel}: {exc}"))]
    except OSError as exc:
        return [Document(rel, None, None, Reason("unreadable", f"{rel} cannot be read ({exc.strerror or exc})"))]


def _labelled(doc: Document, label: int | None) -> Document:
    """``doc`` with the folder's label where it has none of its own."""
    return doc if doc.label is not None or label is None else Document(doc.id, doc.text, label, doc.error)


class UnreadableText(InputError):
    """A text file that cannot be read; ``code`` is the :class:`~llm_mia.types.Reason` code (``invalid_unicode`` or ``unreadable``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def read_text(path: str | Path, name: str | None = None) -> str:
    """A text file's content (UTF-8, a leading byte-order mark dropped), or :class:`UnreadableText`
    saying why it cannot be read; the message calls the file ``name`` (default: its path, printable)."""
    name = printable(str(path)) if name is None else name
    try:
        return Path(path).expanduser().read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableText("invalid_unicode", f"{name} is not valid UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise UnreadableText("unreadable", f"{name} cannot be read ({exc.strerror or exc})") from None


def _text_file(path: Path, doc_id: str) -> Document:
    doc_id = safe_id(doc_id)
    try:
        return Document(doc_id, read_text(path, doc_id))
    except UnreadableText as exc:
        return Document(doc_id, None, None, Reason(exc.code, str(exc)))


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
