"""Documents in and results out: readers for every input format, the score-file reader, writers that never overwrite, frequency tables."""

from __future__ import annotations

from .documents import UnreadableText, as_documents, fingerprint, mark_duplicates, read_documents, read_text, texts_of
from .epub import html_to_text
from .freq_tables import DEFAULT_MAX_TOKENS, FrequencyTable, build_table, check_tokenizer, load_table, save_table
from .gutenberg import strip_gutenberg
from .readers import csv_rows
from .score_files import read_score_file, records_from_json
from .writers import atomic_writer, check_output, check_output_folder, file_name, unused_name, write_jsonl, write_text

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "FrequencyTable",
    "UnreadableText",
    "as_documents",
    "atomic_writer",
    "build_table",
    "check_output",
    "check_output_folder",
    "check_tokenizer",
    "csv_rows",
    "file_name",
    "fingerprint",
    "html_to_text",
    "load_table",
    "mark_duplicates",
    "read_documents",
    "read_score_file",
    "read_text",
    "records_from_json",
    "save_table",
    "strip_gutenberg",
    "texts_of",
    "unused_name",
    "write_jsonl",
    "write_text",
]
