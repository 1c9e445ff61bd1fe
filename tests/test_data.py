"""Reading inputs: every format, and every bad row kept with a reason."""

from __future__ import annotations

import io
import json

import pytest

from llm_mia import read_documents
from llm_mia.errors import InputError


def test_jsonl_with_wikimia_field_names(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"input": "first text", "label": 1}\n\n{"input": "second", "label": 0}\n"a bare string"\n')
    docs = read_documents(p)
    assert [(d.id, d.text, d.label, d.error) for d in docs] == [
        ("0", "first text", 1, None),
        ("1", "second", 0, None),
        ("2", "a bare string", None, None),
    ]


def test_bad_rows_become_errors_not_drops(tmp_path):
    p = tmp_path / "d.jsonl"
    lines = [
        b'{"id": "a", "text": "ok", "label": "1"}',
        b'{"id": "b", "text": "bad label", "label": 2}',
        b'{"id": "c", "body": "no text field"}',
        b'{"id": "a", "text": "duplicate id"}',
        b"{not json",
        b'{"id": "e", "text": "caf\xe9"}',  # Latin-1 byte: not UTF-8
        b'{"id": "f", "text": 42}',
        b"[1, 2]",
    ]
    p.write_bytes(b"\n".join(lines) + b"\n")
    docs = read_documents(p)
    assert len(docs) == len(lines)
    assert docs[0].error is None and docs[0].label == 1
    assert "invalid label 2" in docs[1].error
    assert "missing text field" in docs[2].error
    assert "duplicate id 'a'" in docs[3].error
    assert "not valid JSON" in docs[4].error
    assert "not valid UTF-8" in docs[5].error
    assert "not a string" in docs[6].error
    assert "JSON list" in docs[7].error


def test_text_field_missing_everywhere_is_an_input_error(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"body": "x"}\n')
    with pytest.raises(InputError, match="fields found: body"):
        read_documents(p)
    assert read_documents(p, text_field="body")[0].text == "x"


def test_id_field_missing_everywhere(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "x", "key": 1}\n')
    with pytest.raises(InputError, match="id field 'doc_id'"):
        read_documents(p, id_field="doc_id")


def test_csv_parquet_and_ids(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('ID,Example_A,Label\nx1,"a, quoted\nmultiline text",1\nx2,plain,0\n', encoding="utf-8")
    docs = read_documents(p, text_field="Example_A", label_field="Label", id_field="ID")
    assert [(d.id, d.text, d.label) for d in docs] == [("x1", "a, quoted\nmultiline text", 1), ("x2", "plain", 0)]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"text,label\ncaf\xe9,1\nfine,0\n")
    docs = read_documents(bad)
    assert "not valid UTF-8" in docs[0].error and docs[1].error is None

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["p one", "p two"], "label": [1, 0], "id": ["u", "v"]}), tmp_path / "d.parquet")
    docs = read_documents(tmp_path / "d.parquet")
    assert [(d.id, d.text, d.label) for d in docs] == [("u", "p one", 1), ("v", "p two", 0)]


def test_text_folder_labels_from_member_folders(tmp_path):
    (tmp_path / "member").mkdir()
    (tmp_path / "nonmember").mkdir()
    (tmp_path / "member" / "1.txt").write_text("in training")
    (tmp_path / "nonmember" / "2.txt").write_text("held out")
    (tmp_path / "nonmember" / "3.txt").write_bytes(b"\xff\xfe broken")
    docs = read_documents(tmp_path)
    assert [(d.id, d.label) for d in docs] == [("member/1.txt", 1), ("nonmember/2.txt", 0), ("nonmember/3.txt", 0)]
    assert "not valid UTF-8" in docs[2].error


def test_stdin(monkeypatch):
    data = (json.dumps({"text": "from stdin", "label": 0}) + "\n").encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    docs = read_documents("-")
    assert docs[0].text == "from stdin" and docs[0].label == 0


def test_missing_and_unknown_sources(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_documents(tmp_path / "nope.jsonl")
    (tmp_path / "x.docx").write_text("?")
    with pytest.raises(InputError, match="cannot read"):
        read_documents(tmp_path / "x.docx")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="no rows"):
        read_documents(tmp_path / "empty.jsonl")
