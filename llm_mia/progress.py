"""Progress of a long run on stderr: a bar on a terminal, plain lines anywhere else.

A bar redraws itself with carriage returns, which a log file, a pipe or a CI log keeps as one
long line; where stderr is not a terminal, :class:`Progress` writes a plain line instead: when
the run starts, once an estimate of the time it takes can be made (:data:`ESTIMATE_AFTER`),
every :data:`LINE_EVERY` seconds, and at the end. Both say the time left, from the rate
measured so far in this run. Nothing is written when ``enabled`` is False.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

ESTIMATE_AFTER = 10.0
"""Seconds of work after which the expected total time is stated (a shorter run needs none)."""
LINE_EVERY = 30.0
"""Seconds between two progress lines where stderr is not a terminal."""


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal (a bar can redraw itself there)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def duration(seconds: float) -> str:
    """``seconds`` in words a user reads at a glance: ``45 s``, ``4 min 10 s``, ``1 h 12 min``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Progress:
    """Counts ``total`` units of work (tokens) over one run, which may hold several passes
    (:meth:`set_description` names the current one). ``stream`` defaults to stderr;
    ``terminal`` (default: whether stderr is one) chooses a bar or plain lines."""

    def __init__(self, total: int, desc: str, *, unit: str = "tok", enabled: bool = True, stream: IO[str] | None = None, terminal: bool | None = None) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled and total > 0
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = stderr_is_terminal() if terminal is None else terminal
        self.started = time.perf_counter()
        self._last_line = self.started
        self._estimated = False
        self._bar: Any = None
        if self.enabled and self.terminal:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, desc=desc, file=self.stream, dynamic_ncols=True, unit_scale=True)

    def write(self, line: str) -> None:
        """A line of its own (above the bar on a terminal)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def set_description(self, desc: str) -> None:
        self.desc = desc
        if self._bar is not None:
            self._bar.set_description(desc)

    def update(self, n: int) -> None:
        if not self.enabled:
            return
        self.done += n
        now = time.perf_counter()
        if self._bar is not None:
            self._bar.update(n)
        if not self._estimated and now - self.started >= ESTIMATE_AFTER and self.done < self.total:
            self._estimated = True
            rate = self.done / (now - self.started)
            self.write(
                f"llm-mia: about {duration((self.total - self.done) / rate)} left of {duration(self.total / rate)} "
                f"({self.total:,} {self.unit} at the {rate:,.0f} {self.unit}/s measured on this machine so far)"
            )
        elif self._bar is None and now - self._last_line >= LINE_EVERY and self.done < self.total:
            self._last_line = now
            self.write(self.line())

    def line(self) -> str:
        """Where the run stands: done, elapsed and (once measurable) the time left."""
        elapsed = time.perf_counter() - self.started
        left = f", about {duration((self.total - self.done) * elapsed / self.done)} left" if self.done else ""
        return f"{self.desc}: {self.done:,} of {self.total:,} {self.unit} ({100 * self.done / max(1, self.total):.0f}%), {duration(elapsed)} elapsed{left}"

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.done:
            self.write(f"llm-mia: done, {self.done:,} {self.unit} in {duration(time.perf_counter() - self.started)}")
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
