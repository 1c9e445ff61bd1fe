"""Load test of ``llm-mia serve`` under hostile clients (issue 27): honest clients keep being
served while oversized, slow, smuggling and unauthenticated clients are refused.

Bounded and loopback only: the server (llm-mia's own HTTP server around the deterministic test
backend, so that the figures measure the transport, not a model) listens on 127.0.0.1 with a
token, a short idle timeout and a connection limit; each phase lasts ``--seconds``.

- ``honest``: ``--clients`` threads, each an :class:`~llm_mia.backends.HTTPBackend` scoring batches of
  8 texts in a loop: batches per second and the 50th / 95th percentile of a batch's latency.
- ``under attack``: the same, while hostile threads run at once: slow clients that open
  connections and never finish their headers (reopened when the server closes them), bodies
  declared at 1 GB, a negative ``Content-Length``, a request whose body hides a second request
  (smuggling), and requests without the token. Every hostile answer's status is counted, and
  whether any smuggled request was answered (it must not be).

    python benchmarks/load_test.py --update-readme
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llm_mia.backends import HTTPBackend, MockBackend, ScoringService, make_server  # noqa: E402
from readme_block import update_readme  # noqa: E402

RESULTS = HERE / "results" / "load_test.json"
TOKEN = "load-test-token"
TEXTS = [f"an honest client's text number {i}, long enough to be scored as a few dozen tokens of bytes" for i in range(8)]
SMUGGLED = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"


def exchange(port: int, data: bytes, wait: float = 2.0) -> bytes:
    """Send ``data`` on one connection and read until the server closes it or ``wait`` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as conn:
        conn.sendall(data)
        got = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            got += chunk
        return got


def statuses(answer: bytes) -> list[int]:
    """The status of every response in ``answer`` (a response may follow a body without a line break)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)]


HOSTILE: dict[str, bytes] = {
    "oversized body (1 GB declared)": b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n" + b"x" * 1024,
    "negative Content-Length": b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + b"x" * 1024,
    "smuggled request in the body (with the token)": f"POST /v1/nope HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {len(SMUGGLED)}\r\n\r\n".encode()
    + SMUGGLED,
    "no token": b"GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
}


def _honest(url: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    backend = HTTPBackend(url, backoff=0.05)
    ids = backend.tokenize(TEXTS)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            backend.forward([(i, 1) for i in ids])
        except Exception as exc:  # noqa: BLE001  (counted: an honest client must not fail)
            failures.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        latencies.append(time.perf_counter() - started)


def _attack(port: int, kind: str, stop: threading.Event, counts: dict[str, dict[str, int]], lock: threading.Lock) -> None:
    while not stop.is_set():
        answer = exchange(port, HOSTILE[kind])
        codes = statuses(answer)
        with lock:
            c = counts.setdefault(kind, {})
            c["requests"] = c.get("requests", 0) + 1
            for code in codes[:1]:
                c[str(code)] = c.get(str(code), 0) + 1
            if len(codes) > 1:
                c["second answers (smuggled requests run)"] = c.get("second answers (smuggled requests run)", 0) + 1


def _slow(port: int, stop: threading.Event, opened: list[int], lock: threading.Lock) -> None:
    """Open connections that send half a request line and wait; reopen each one the server closes."""
    conns: list[socket.socket] = []
    while not stop.is_set():
        while len(conns) < 16:
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=1)
                c.sendall(b"GET /v1/models HTTP/1.1\r\nHost: x\r\n")
                conns.append(c)
                with lock:
                    opened[0] += 1
            except OSError:
                break
        time.sleep(0.2)
        alive = []
        for c in conns:
            try:
                c.setblocking(False)
                if c.recv(1024) == b"":
                    c.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                c.close()
                continue
            alive.append(c)
        conns = alive
    for c in conns:
        c.close()


def _phase(url: str, port: int, clients: int, seconds: float, hostile: bool) -> dict[str, Any]:
    stop, lock = threading.Event(), threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []
    counts: dict[str, dict[str, int]] = {}
    opened = [0]
    threads = [threading.Thread(target=_honest, args=(url, stop, latencies, failures)) for _ in range(clients)]
    if hostile:
        threads += [threading.Thread(target=_attack, args=(port, kind, stop, counts, lock)) for kind in HOSTILE]
        threads += [threading.Thread(target=_slow, args=(port, stop, opened, lock)) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    lat = np.array(latencies) * 1000
    return {
        "batches": len(latencies),
        "batches_per_second": len(latencies) / seconds,
        "p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
        "p95_ms": float(np.percentile(lat, 95)) if lat.size else None,
        "honest_failures": len(failures),
        "failure_examples": failures[:3],
        "hostile": counts,
        "slow_connections_opened": opened[0],
    }


def run(clients: int, seconds: float, idle_timeout: float, max_connections: int) -> dict[str, Any]:
    service = ScoringService(MockBackend())
    server = make_server(service, "127.0.0.1", 0, token=TOKEN, idle_timeout=idle_timeout, max_connections=max_connections)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    os.environ["LLM_MIA_API_KEY"] = TOKEN
    url = f"http://127.0.0.1:{port}/v1"
    try:
        honest = _phase(url, port, clients, seconds, hostile=False)
        attacked = _phase(url, port, clients, seconds, hostile=True)
    finally:
        server.shutdown()
        server.server_close()
    return {
        "clients": clients,
        "seconds": seconds,
        "idle_timeout": idle_timeout,
        "max_connections": max_connections,
        "honest": honest,
        "under_attack": attacked,
        "date": time.strftime("%Y-%m-%d"),
        "command": "python benchmarks/load_test.py --update-readme",
    }


def table(r: dict[str, Any]) -> str:
    """Two tables: the honest clients' service alone and under attack, and each hostile kind's answers."""
    lines = [
        f"`{r['command']}` ({r['date']}): {r['clients']} honest clients for {r['seconds']:g} s per phase, "
        f"server with a token, idle timeout {r['idle_timeout']:g} s, at most {r['max_connections']} connections, the test backend.",
        "",
        "| phase | batches of 8 texts / s | latency p50 (ms) | p95 (ms) | honest requests failed |",
        "|---|---|---|---|---|",
    ]
    for name, key in (("honest clients alone", "honest"), ("under attack", "under_attack")):
        p = r[key]
        lines.append(
            f"| {name} | {p['batches_per_second']:.1f} | {p['p50_ms']:.1f} | {p['p95_ms']:.1f} | {p['honest_failures']} of {p['batches'] + p['honest_failures']} |"
        )
    lines += ["", "| hostile client | requests | answers |", "|---|---|---|"]
    for kind, c in sorted(r["under_attack"]["hostile"].items()):
        answers = ", ".join(f"{n} x {code}" for code, n in sorted(c.items()) if code != "requests") or "none (closed)"
        lines.append(f"| {kind} | {c['requests']} | {answers} |")
    lines.append(
        f"| slow: half a request, then silence | {r['under_attack']['slow_connections_opened']} connections | closed by the idle timeout or refused (503) at the limit |"
    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--idle-timeout", type=float, default=1.0)
    ap.add_argument("--max-connections", type=int, default=48)
    ap.add_argument("--update-readme", action="store_true")
    args = ap.parse_args()
    result = run(args.clients, args.seconds, args.idle_timeout, args.max_connections)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    md = table(result)
    print(md)
    if args.update_readme:
        update_readme(
            "load-test",
            "Generated by `python benchmarks/load_test.py --update-readme` from `results/load_test.json`.",
            md,
            section="## `llm-mia serve` under hostile clients\n\nHonest clients are served while oversized, slow, smuggling and unauthenticated clients are refused (loopback, the test backend, bounded).",
        )


if __name__ == "__main__":
    main()
