"""Writing results without destroying data.

Every output is written to a temporary file beside it and renamed into place at the end, so
a run that fails or is interrupted leaves any earlier file as it was (and no half-written
one). :func:`check_output` is called before any work starts: it refuses a path that is one
of the run's inputs (always) or an existing file (unless the user asked to replace it).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import InputError
from .strings import printable

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def check_output(
    path: str | Path,
    *,
    inputs: Sequence[str | Path | None] = (),
    force: bool = False,
    what: str = "output",
) -> Path:
    """``path``, once it is known to be safe to write: not one of ``inputs`` (nor a file in an
    input folder), not a folder, and not an existing file unless ``force``."""
    target = Path(path).expanduser()
    for source in inputs:
        if source is None or str(source) == "-":
            continue
        src = Path(source).expanduser()
        if _same_file(target, src) or (src.is_dir() and target.exists() and _inside(target, src)):
            raise InputError(f"refusing to write the {what} to {printable(target)}: it is an input of this run; choose another path")
    if target.is_dir():
        raise InputError(f"cannot write the {what} to {printable(target)}: it is a folder")
    if target.exists() and not force:
        raise InputError(f"{printable(target)} already exists: pass --force to replace it, or choose another path")
    return target


def check_output_folder(path: str | Path, *, force: bool = False) -> Path:
    """A results folder: refused when it exists and is not empty, unless ``force``."""
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{printable(folder)} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise InputError(f"{printable(folder)} already holds results: pass --force to replace them, or choose another folder")
    return folder


def file_name(name: str, what: str = "name") -> str:
    """``name`` when it is usable as a plain file name (letters, digits, ``._+-``, not starting
    with a dot): a name from a config file must not write outside the results folder."""
    if not _FILE_NAME.fullmatch(name):
        raise InputError(
            f"{what} {printable(name)!r} cannot name a file: use letters, digits and . _ + - "
            "(no path separators, no '..', not starting with a dot)"
        )
    return name


@contextmanager
def atomic_writer(path: str | Path, *, make_parents: bool = True) -> Iterator[IO[str]]:
    """A text file handle whose content replaces ``path`` only when the block ends without an
    error; on an error the temporary file is removed and ``path`` is untouched."""
    target = Path(path).expanduser()
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        # backslashreplace: a stray surrogate is written as an escape rather than failing the run
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str, *, make_parents: bool = True) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, make_parents=make_parents) as fh:
        fh.write(text)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as JSON lines, atomically."""
    with atomic_writer(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
