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
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ..errors import InputError
from ..strings import printable

_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def check_output(
    path: str | Path,
    *,
    inputs: Sequence[str | Path | None] = (),
    force: bool = False,
    what: str = "output",
) -> Path:
    """``path``, once it is known to be safe to write: not one of ``inputs`` (``-``: standard
    input), not inside an input folder (the next run would read it), not a folder, in a
    folder that exists or can be made and is writable, and not an existing file unless
    ``force``."""
    target = Path(path).expanduser()
    refuse = f"refusing to write the {what} to {printable(target)}"
    for source in inputs:
        if source is None:
            continue
        if str(source) == "-":
            if _is_stdin(target):
                raise InputError(f"{refuse}: it is the standard input of this run; choose another path")
            continue
        src = Path(source).expanduser()
        if _same_file(target, src):
            raise InputError(f"{refuse}: it is an input of this run; choose another path")
        if src.is_dir() and _inside(target, src):
            raise InputError(f"{refuse}: it lies in the input folder {printable(src)}, where a later run would read it as input; choose another path")
    if target.is_dir():
        raise InputError(f"cannot write the {what} to {printable(target)}: it is a folder")
    _check_parent(target, what)
    if target.exists() and not force:
        raise InputError(f"{printable(target)} already exists: pass --force to replace it, or choose another path")
    return target


def unused_name(path: str | Path) -> Path:
    """``path`` if no file has that name yet, else the first of ``stem-2.suffix``,
    ``stem-3.suffix``, ... that is free: for an output the user did not name, so that a
    re-run never stops on its own earlier default output (nor replaces it)."""
    target = Path(path).expanduser()
    n = 2
    while target.exists() or target.is_symlink():
        target = target.with_name(f"{Path(path).stem}-{n}{Path(path).suffix}")
        n += 1
    return target


def check_output_folder(path: str | Path, *, inputs: Sequence[str | Path | None] = (), force: bool = False) -> Path:
    """A results folder: refused when it holds an input or lies in an input folder, and, unless
    ``force``, when it exists and is not empty."""
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{printable(folder)} is a file, not a folder")
    for source in inputs:
        src = None if source is None or str(source) == "-" else Path(source).expanduser()
        if src is not None and src.exists() and (_inside(src, folder) or (src.is_dir() and _inside(folder, src))):
            raise InputError(f"refusing to write results to {printable(folder)}: it holds, or lies in, the input {printable(src)}")
    _check_parent(folder / "results.json", "results")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise InputError(f"{printable(folder)} already holds files: pass --force to write into it, or choose another folder")
    return folder


def file_name(name: str, what: str = "name") -> str:
    """``name`` when it is usable as a plain file name (letters, digits, ``._+-``, not starting
    with a dot): a name from a config file must not write outside the results folder."""
    if not _FILE_NAME.fullmatch(name):
        raise InputError(
            f"{what} {printable(name)!r} cannot name a file: use letters, digits and . _ + - (no path separators, no '..', not starting with a dot)"
        )
    return name


@contextmanager
def atomic_writer(path: str | Path, *, replace: bool = True, make_parents: bool = True) -> Iterator[IO[str]]:
    """A text file handle whose content becomes ``path`` only when the block ends without an
    error; on an error the temporary file is removed and ``path`` is untouched.

    The file gets the mode an ordinary write would give it (an existing file's mode, else
    0666 less the umask); a symbolic link is written through. With ``replace=False`` a file
    that appeared at ``path`` while the block ran is kept: the new content goes to a free
    name beside it (``<name>.new``, ...) and :class:`InputError` says where."""
    target = Path(os.path.realpath(Path(path).expanduser()))
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        os.fchmod(fd, _mode(target))
        # backslashreplace: a stray surrogate is written as an escape rather than failing the run
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as fh:
            yield fh
        if replace:
            os.replace(tmp, target)
        else:
            _place_new(Path(tmp), target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _place_new(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target`` unless a file is there (atomically where the file system has
    hard links); otherwise to a free name beside it, and say so."""
    try:
        os.link(tmp, target)
        tmp.unlink()
        return
    except FileExistsError:
        pass
    except OSError:  # no hard links here: check, then rename
        if not target.exists():
            os.replace(tmp, target)
            return
    k, kept = 1, target.with_name(target.name + ".new")
    while kept.exists():
        k, kept = k + 1, target.with_name(f"{target.name}.new{k + 1}")
    os.replace(tmp, kept)
    raise InputError(f"{printable(target)} appeared while this run was going and was kept; this run's output is in {printable(kept)}")


def write_text(path: str | Path, text: str, *, replace: bool = True, make_parents: bool = True) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, replace=replace, make_parents=make_parents) as fh:
        fh.write(text)


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]], *, replace: bool = True) -> None:
    """Write rows as JSON lines, atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, replace=replace) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")


def _mode(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _check_parent(target: Path, what: str) -> None:
    """The nearest existing folder above ``target`` must be a writable folder."""
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot write the {what} to {printable(target)}: {printable(parent)} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write the {what} to {printable(target)}: folder {printable(parent)} is not writable")


def _is_stdin(target: Path) -> bool:
    try:
        return target.exists() and os.path.samestat(os.fstat(0), os.stat(target))
    except (OSError, ValueError):
        return False


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
