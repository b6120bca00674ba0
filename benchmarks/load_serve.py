"""Load test of `toonbridge serve`: 1,000 requests from 16 concurrent clients on loopback.

    python benchmarks/load_serve.py [--requests 1000] [--clients 16] [--workers 1] [--no-write]

Starts the server as its own process (default limits: queue 16, so 16 clients never see a 503), then each client
thread posts the bundled sample photo to /v1/cartoonize in a loop. Reports errors (any status other than 200),
latency percentiles as the clients see them (queueing included), throughput, and the server's peak resident
memory (VmHWM from /proc).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from _report import markdown_table, print_table, update_section

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "src" / "toonbridge" / "assets" / "astronaut.jpg"

NOTE = (
    'Each request posts the bundled 512-px sample photo to `/v1/cartoonize` and gets the whole photo back '
    'as PNG. Latency is as the clients see it, queueing included: 16 clients share one 2-core server.'
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("server did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "toonbridge.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_up(url, server)
        photo = SAMPLE.read_bytes()
        latencies, statuses, lock = [], [], threading.Lock()
        remaining = iter(range(args.requests))

        def client() -> None:
            with httpx.Client(timeout=120) as session:
                while True:
                    with lock:
                        if next(remaining, None) is None:
                            return
                    start = time.perf_counter()
                    try:
                        status = session.post(f"{url}/v1/cartoonize", files={"image": ("photo.jpg", photo)},
                                              data={"style": "bitmoji"}).status_code
                    except httpx.HTTPError as error:
                        status = type(error).__name__
                    with lock:
                        latencies.append(time.perf_counter() - start)
                        statuses.append(status)

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        memory = peak_memory_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    errors = sum(status != 200 for status in statuses)
    p50, p95, p99 = np.percentile(np.array(latencies) * 1000, [50, 95, 99])
    header = ["requests", "clients", "server workers", "errors", "p50 ms", "p95 ms", "p99 ms", "requests/s", "server peak RSS"]
    rows = [[len(statuses), args.clients, args.workers, errors, f"{p50:.0f}", f"{p95:.0f}", f"{p99:.0f}",
             f"{len(statuses) / wall:.1f}", f"{memory:.0f} MiB"]]
    print_table("POST /v1/cartoonize, sample photo (512 px), loopback", header, rows)
    if not args.no_write:
        update_section("serve-load", markdown_table(header, rows) + "\n\n" + NOTE,
                       f"python benchmarks/load_serve.py --requests {args.requests} --clients {args.clients} --workers {args.workers}")


if __name__ == "__main__":
    main()
