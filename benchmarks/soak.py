"""Load with a training job running: 256 clients of mixed forecasts for 5 minutes while a job trains.

    .venv/bin/python -m benchmarks.soak [--baseline 60] [--duration 300] [--concurrency 256] [--rss-every 60]
                                        [--workers 2]

Phase 1: the mixed load alone (baseline p99). Phase 2: a training job starts (ECG, in the service's
worker process) and the same load runs for --duration seconds. Reports errors by kind, p50/p99 of
both phases, server RSS after warm-up, every --rss-every seconds of the loaded phase and at the
end (with several workers: the supervisor and its workers summed, the training process apart), and
whether the job finished and its version serves. Nothing is pinned: server, worker and wrk
share both cores. Writes benchmarks/out/soak.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.output import save
from model.datasets import DATASETS

ROOT = Path(__file__).resolve().parents[1]
PORT = 8110


def rss_mb(pid: int, children: bool = True) -> float:
    """RSS of the server: the process and (several workers) its direct children, not their children
    (the training job's process is a worker's child)."""
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    except FileNotFoundError:
        return 0.0
    if children:
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            total += sum(rss_mb(int(child), children=False) for child in task.read_text().split())
    return total


def bodies(folder: Path) -> Path:
    """One line per request kind: every default forecaster, 1 and 32 series."""
    stock = DATASETS["stock"].load()["close"].tolist()
    ecg = DATASETS["ecg"].load()["mv"].tolist()
    weather = DATASETS["weather"].load()
    lines = []
    for n in (1, 32):
        kinds = {
            "stock": [{"values": stock[i : i + 30]} for i in range(n)],
            "ecg": [{"values": ecg[i * 50 : i * 50 + 180]} for i in range(n)],
            "weather": [{"values": weather["temp_max"].iloc[i : i + 28].tolist(),
                         "timestamps": weather["date"].iloc[i : i + 28].tolist(),  # it reads the time of year
                         "covariates": {c: weather[c].iloc[i : i + 28].tolist()
                                        for c in ("temp_min", "precipitation", "wind")}}
                        for i in range(n)],
        }
        for model, series in kinds.items():
            file = folder / f"{model}{n}.json"
            file.write_text(json.dumps({"series": series}))
            lines.append(f"/v1/models/{model}/forecast {file}")
    mix = folder / "mix.txt"
    mix.write_text("\n".join(lines) + "\n")
    return mix


def wrk(url: str, mix: Path, concurrency: int, seconds: int) -> dict:
    command = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{seconds}s", "--timeout", "10s",
               "-s", str(ROOT / "benchmarks" / "wrk_mixed.lua"), url]
    out = subprocess.run(command, env={**os.environ, "MIX_FILE": str(mix)}, capture_output=True, text=True,
                         timeout=seconds + 120).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=int, default=60)
    parser.add_argument("--duration", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--rss-every", type=float, default=60.0, help="seconds between RSS samples")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    args = parser.parse_args()
    url = f"http://127.0.0.1:{PORT}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mix = bodies(folder)
        env = {**os.environ, "GRU_FORECAST_STORE": str(folder / "store"), "GRU_FORECAST_PORT": str(PORT),
               "GRU_FORECAST_WORKERS": str(args.workers)}
        server = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], env=env, cwd=ROOT,
                                  stdout=open(folder / "server.log", "wb"), stderr=subprocess.STDOUT)
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            wrk(url, mix, args.concurrency, 10)  # warm-up
            rss_start = rss_mb(server.pid)
            base = wrk(url, mix, args.concurrency, args.baseline)
            ecg = DATASETS["ecg"].load()["mv"].tolist()
            job = httpx.post(url + "/v1/train", timeout=60, json={
                "name": "ecg-soak", "data": {"mv": ecg},
                "options": {"targets": ["mv"], "input_size": 180, "horizon": 18, "stride": 6, "epochs": 12,
                            "patience": 0, "season_length": 288}}).json()
            started = time.monotonic()
            samples: list[tuple[float, float]] = []
            done = threading.Event()

            def sample() -> None:  # RSS every --rss-every seconds while the load runs
                while not done.wait(args.rss_every):
                    samples.append((time.monotonic() - started, rss_mb(server.pid)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            loaded = wrk(url, mix, args.concurrency, args.duration)
            done.set()
            rss_end = rss_mb(server.pid)
            status = httpx.get(f"{url}/v1/jobs/{job['id']}").json()
            while status["status"] in ("queued", "running") and time.monotonic() - started < 900:
                time.sleep(2)
                status = httpx.get(f"{url}/v1/jobs/{job['id']}").json()
            job_seconds = time.monotonic() - started
            served = None
            if status["status"] == "succeeded":
                body = {"series": [{"values": ecg[:180]}]}
                r = httpx.post(f"{url}/v1/models/ecg-soak/forecast?version={status['version']}", json=body)
                served = r.status_code
        finally:
            server.terminate()
            server.wait(30)

    def row(name: str, r: dict) -> str:
        seconds = r["duration_us"] / 1e6
        errors = {k: v for k, v in r["errors"].items() if v}
        other = {k: v for k, v in r["codes"].items() if k not in ("200", "503")}
        return (f"| {name} | {r['requests'] / seconds:,.0f} | {r['p50_us'] / 1000:.1f} | {r['p99_us'] / 1000:.1f} | "
                f"{r['codes'].get('200', 0):,} | {r['codes'].get('503', 0):,} | {other or 0} | {errors or 0} |")

    lines = [f"{args.workers} worker process(es); c={args.concurrency}, mixed bodies (stock, weather, ECG; 1 and 32 "
             "series per request), wrk keep-alive",
             "", "| phase | requests/s | p50 ms | p99 ms | 200 | 503 | other statuses | socket errors |",
             "|---|---|---|---|---|---|---|---|",
             row(f"no training ({args.baseline} s)", base), row(f"training running ({args.duration} s)", loaded), "",
             f"- p99 during training / without: {loaded['p99_us'] / base['p99_us']:.2f}x",
             f"- server RSS after warm-up {rss_start:.0f} MB, after the loaded phase {rss_end:.0f} MB "
             f"({100 * (rss_end - rss_start) / rss_start:+.1f}%)",
             "- server RSS (MB) during the loaded phase, by minute: "
             + (", ".join(f"{rss:.0f}" for _, rss in samples) or "(shorter than one sample)"),
             f"- training job: {status['status']} after {job_seconds:.0f} s, "
             f"epoch {status['epoch']}/{status['epochs']}, "
             f"version {status['version']}; forecast with that version: HTTP {served}"]
    save("soak" if args.workers == 1 else f"soak_workers{args.workers}", "\n".join(lines))


if __name__ == "__main__":
    main()
