"""Row sources: each tabular input format as ``(where, row)`` pairs.

``where`` names the row for messages ("line 3", "item 2", "row 5"); ``row`` is a dict of
fields, or a string saying why that row could not be read. A problem that makes the rows
themselves unknowable (an unclosed quote in a CSV file, a JSON array that does not parse,
an unreadable Parquet file) raises :class:`InputError` instead: the file as a whole is
unusable, and nothing should be scored from it.

Formats:

- JSONL (``.jsonl``, ``.ndjson``): one JSON object or string per line; blank lines are not
  rows. A UTF-8 byte-order mark is ignored.
- JSON (``.json``): a JSON array of objects or strings, one JSON object, or else JSON lines.
- CSV: RFC 4180 quoting, read strictly: a quote that is never closed, or text after a
  closing quote, stops the run with the line where the record starts (a lenient reader would
  swallow every later row into one field). A record whose number of fields differs from the
  header's is a row with an error.
- TSV: one record per line (LF, CRLF or CR), fields split at tabs and taken literally (the IANA definition;
  ``"Stop," he said.`` keeps its quotes), except that a field wholly enclosed in quotes with
  inner quotes doubled (how Python's csv module and pandas write a field holding a quote) is
  unquoted. A TSV field cannot hold a tab or a line break: use CSV or JSONL for such texts.
- Parquet (needs pyarrow).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..strings import safe_id

Row = tuple[str, "dict[str, Any] | str"]

_BOM = codecs.BOM_UTF8
_WHOLLY_QUOTED = re.compile(r'"((?:[^"]|"")*)"', re.DOTALL)
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def jsonl_rows(fh: Any, name: str) -> Iterator[Row]:
    """Rows of JSON lines read from the binary file ``fh``."""
    for number, raw in enumerate(fh, start=1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield where, f"{where} of {name} is not valid UTF-8 (byte {exc.start})"
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, a number too long, nesting too deep
            yield where, f"{where} of {name} is not valid JSON ({_json_problem(exc)})"
            continue
        yield where, _as_row(obj, where, name)


def json_rows(path: Path) -> Iterator[Row]:
    """A ``.json`` file: a JSON array of records (or strings), one JSON object (a record, for
    example pretty-printed over several lines), or else JSON lines."""
    data = path.read_bytes()
    body = data[len(_BOM) :] if data.startswith(_BOM) else data
    start = body.lstrip()[:1]
    if start == b"{":
        try:
            whole = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # not one object: JSON lines
            whole = None
        if isinstance(whole, dict):
            yield "item 1", whole
            return
    if start != b"[":
        yield from jsonl_rows(io.BytesIO(body), _name(path))
        return
    try:
        items = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{_name(path)} starts like a JSON array but does not parse as one ({_json_problem(exc)})") from None
    for number, obj in enumerate(items, start=1):
        yield f"item {number}", _as_row(obj, f"item {number}", _name(path))


def _json_problem(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)


def _as_row(obj: Any, where: str, name: str) -> dict[str, Any] | str:
    if isinstance(obj, str):
        return {"text": obj}
    if not isinstance(obj, dict):
        return f"{where} of {name} is a JSON {type(obj).__name__}, not an object or a string"
    return obj


def csv_rows(path: Path) -> Iterator[Row]:
    """Rows of a CSV file with a header line (see the module docstring)."""
    text = _decode(path)
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(
                f"{_name(path)}: the record that starts on line {start} cannot be parsed ({exc}). A quote opened "
                f"there may never be closed, which would read every later row into one field. Inside a quoted "
                f'field a quote is written twice ("")'
            ) from None
        where, start = f"line {start}", reader.line_num + 1
        if not fields:  # a blank line
            continue
        if header is None:
            header = _header(fields, _name(path))
            continue
        yield where, _fields_row(fields, header, where, _name(path))
    if header is None:
        raise InputError(f"{_name(path)} is empty: a CSV file needs a header line naming its columns")


def tsv_rows(path: Path) -> Iterator[Row]:
    """Rows of a TSV file with a header line (see the module docstring)."""
    header: list[str] | None = None
    for number, line in enumerate(_LINE_BREAK.split(_decode(path)), start=1):
        if not line:
            continue
        fields = [_unquote(f) for f in line.split("\t")]
        if header is None:
            header = _header(fields, _name(path))
            continue
        yield f"line {number}", _fields_row(fields, header, f"line {number}", _name(path))
    if header is None:
        raise InputError(f"{_name(path)} is empty: a TSV file needs a header line naming its columns")


def _name(path: Path) -> str:
    return safe_id(path.name)


def _decode(path: Path) -> str:
    """The file as text: UTF-8 (a byte-order mark is dropped); undecodable bytes become
    ``\\udcNN`` escapes, so that only the rows holding them are refused."""
    return path.read_bytes().decode("utf-8-sig", errors="surrogateescape")


def _unquote(field: str) -> str:
    m = _WHOLLY_QUOTED.fullmatch(field)
    return m.group(1).replace('""', '"') if m else field


def _header(fields: list[str], name: str) -> list[str]:
    names = [f.strip() for f in fields]
    if _UNDECODABLE.search("".join(names)):
        raise InputError(f"the header line of {name} is not valid UTF-8")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"the header of {name} names column(s) {', '.join(map(repr, repeated))} more than once")
    return names


def _fields_row(fields: list[str], header: list[str], where: str, name: str) -> dict[str, Any] | str:
    if len(fields) != len(header):
        return f"{where} of {name} has {len(fields)} field(s); the header has {len(header)}"
    if any(_UNDECODABLE.search(f) for f in fields):
        return f"{where} of {name} is not valid UTF-8"
    return dict(zip(header, fields))


def parquet_rows(path: Path) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise InputError(f"cannot read Parquet file {_name(path)}: {exc}") from None
    for number, row in enumerate(table.to_pylist(), start=1):
        yield f"row {number}", row
