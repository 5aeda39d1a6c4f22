"""Serving benchmark: the service against the straightforward server and the HTTP floor, same run.

    .venv/bin/python -m benchmarks.serving [--duration 5] [--repeats 3] [--concurrency 1 64 256] [--processes 1 2]

The service also answers the same windows over /v1 (JSON) and /v2 (Open Inference Protocol, binary
tensors) at --protocol-series per request, beside the raw model (no HTTP, one thread) at that batch.

Each server runs alone. With one process it is pinned to CPU 0 and wrk (closed loop, keep-alive,
127.0.0.1) to CPU 1, so the load generator does not eat the server's core; with N processes the
servers get CPUs 0..N-1 and wrk the last CPU (on 2 cores they share one). Every server runs with the
same number of processes as the others it is compared with: the service with `--workers N`, the
straightforward server and the FastAPI floor as `uvicorn --workers N`. Servers are interleaved A B C A B C ...
Writes benchmarks/out/serving.json and prints a Markdown table (medians, min..max).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.output import OUT, save
from model.datasets import DATASETS

ROOT = Path(__file__).resolve().parents[1]
PORTS = {"service": 8100, "straightforward": 8101, "floor": 8102}


def cpu_seconds(pid: int) -> float:
    """CPU time of a server and its worker processes (utime + stime, children summed)."""
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


SERVER_CPUS, LOAD_CPUS, LOAD_THREADS = "", "1", 1  # set from --server-cpus / --load-cpus


def cpu_count(cpus: str) -> int:
    """How many CPUs a taskset list names ("8-11,13" -> 5): wrk runs one thread on each."""
    count = 0
    for part in cpus.split(","):
        first, _, last = part.partition("-")
        count += int(last or first) - int(first) + 1
    return count


def cpus_for(processes: int) -> str:
    """The servers' CPUs: --server-cpus when given, else 0..N-1 (at most the machine's)."""
    if SERVER_CPUS:
        return SERVER_CPUS
    count = len(os.sched_getaffinity(0))
    return "0" if processes == 1 else f"0-{min(processes, count) - 1}"


def start(kind: str, store: Path, env_extra: dict[str, str], processes: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, **env_extra}
    if kind == "service":
        env.update(GRU_FORECAST_STORE=str(store), GRU_FORECAST_PORT=str(PORTS[kind]),
                   GRU_FORECAST_WORKERS=str(processes))
        command = [sys.executable, "-m", "service.cli", "serve"]
    else:
        command = [sys.executable, "-m", "benchmarks.reference_servers", kind, "--port", str(PORTS[kind]),
                   "--workers", str(processes)]
    process = subprocess.Popen(["taskset", "-c", cpus_for(processes), *command], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{PORTS[kind]}"
    # The service is measured once every worker listens: /health/ready answers with its pid, and a
    # worker still loading its models (CUDA contexts take seconds each) holds no socket yet.
    pids: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if kind != "service":
                httpx.get(url + "/openapi.json", timeout=1)
                return process
            with httpx.Client(timeout=1) as client:  # a new connection each time: another worker may take it
                ready = client.get(url + "/health/ready", headers={"Connection": "close"})
            if ready.status_code == 200:
                pids.add(ready.json()["pid"])
                if len(pids) >= processes:
                    return process
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{kind} did not start ({len(pids)} of {processes} workers answered)")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def service_metrics(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=5).text
    values = {}
    for key in ("gru_batch_size_sum", "gru_batch_size_count", "gru_queue_wait_seconds_sum",
                "gru_compute_seconds_sum"):
        match = re.search(key + r'\{model="stock"\} (\S+)', text)
        values[key] = float(match.group(1)) if match else 0.0
    return values


def run_wrk(url: str, body_file: Path, concurrency: int, duration: float, header: int | None = None) -> dict:
    mix = body_file.with_suffix(".mix")
    # the one request wrk_mixed.lua repeats (with the JSON header's length for a /v2 binary body)
    mix.write_text(f"{httpx.URL(url).path} {body_file} {header or ''}\n")
    env = {**os.environ, "MIX_FILE": str(mix)}
    threads = str(min(LOAD_THREADS, concurrency))
    command = ["taskset", "-c", LOAD_CPUS, "wrk", "-t", threads, "-c", str(concurrency), "-d", f"{int(duration)}s",
               "--timeout", "10s", "-s", str(ROOT / "benchmarks" / "wrk_mixed.lua"), url]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(kind: str, process: subprocess.Popen[bytes], body_file: Path, series: int, concurrency: int,
            duration: float, processes: int = 1, path: str = "/v1/models/stock/forecast",
            header: int | None = None, label: str | None = None) -> dict:
    base = f"http://127.0.0.1:{PORTS[kind]}"
    url = base + path
    run_wrk(url, body_file, concurrency, 1, header)  # warm-up
    before_cpu = cpu_seconds(process.pid)
    before = service_metrics(base) if kind == "service" else None
    result = run_wrk(url, body_file, concurrency, duration, header)
    kind = label or kind
    cpu = cpu_seconds(process.pid) - before_cpu
    seconds = result["duration_us"] / 1e6
    ok = result["codes"].get("200", 0)
    point = {
        "server": kind, "processes": processes, "series": series, "concurrency": concurrency,
        "requests_per_s": result["requests"] / seconds, "forecasts_per_s": ok * series / seconds,
        "p50_ms": result["p50_us"] / 1000, "p90_ms": result["p90_us"] / 1000, "p99_ms": result["p99_us"] / 1000,
        "errors": {**{k: v for k, v in result["errors"].items() if v},
                   **{f"http_{k}": v for k, v in result["codes"].items() if k != "200"}},
        "server_cpu_s_per_s": cpu / seconds,
    }
    if before is not None:
        after = service_metrics(base)
        batches = after["gru_batch_size_count"] - before["gru_batch_size_count"]
        delta = {k: after[k] - before[k] for k in after}
        if batches:
            point["mean_batch"] = delta["gru_batch_size_sum"] / batches
            point["queue_wait_ms"] = 1000 * delta["gru_queue_wait_seconds_sum"] / batches
            point["compute_ms"] = 1000 * delta["gru_compute_seconds_sum"] / batches
    return point


def summarize(points: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault((p.get("processes", 1), p["series"], p["concurrency"], p["server"]), []).append(p)
    rows = []
    for (processes, series, concurrency, server), runs in sorted(groups.items()):
        row = {"processes": processes, "series": series, "concurrency": concurrency, "server": server,
               "runs": len(runs)}
        for key in ("requests_per_s", "forecasts_per_s", "p50_ms", "p90_ms", "p99_ms", "server_cpu_s_per_s",
                    "mean_batch", "queue_wait_ms", "compute_ms"):
            values = [r[key] for r in runs if key in r]
            if values:
                row[key] = (statistics.median(values), min(values), max(values))
        errors: dict[str, int] = {}
        for r in runs:
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        row["errors"] = errors
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    def fmt(value: tuple | None, digits: int = 0) -> str:
        if value is None:
            return ""
        med, lo, hi = value
        return f"{med:,.{digits}f} ({lo:,.{digits}f}..{hi:,.{digits}f})"

    lines = ["| processes | series/req | c | server | forecasts/s | requests/s | p50 ms | p90 ms | p99 ms | errors | "
             "server CPU s/s | mean batch | queue wait ms | compute ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "0"
        lines.append(f"| {r['processes']} | {r['series']} | {r['concurrency']} | {r['server']} | "
                     f"{fmt(r.get('forecasts_per_s'))} | "
                     f"{fmt(r.get('requests_per_s'))} | {fmt(r.get('p50_ms'), 1)} | {fmt(r.get('p90_ms'), 1)} | "
                     f"{fmt(r.get('p99_ms'), 1)} | {errors} | {fmt(r.get('server_cpu_s_per_s'), 2)} | "
                     f"{fmt(r.get('mean_batch'), 1)} | {fmt(r.get('queue_wait_ms'), 2)} | "
                     f"{fmt(r.get('compute_ms'), 2)} |")
    return "\n".join(lines)


def ratios(rows: list[dict]) -> str:
    index = {(r["processes"], r["series"], r["concurrency"], r["server"]): r for r in rows}
    lines = ["| processes | series/req | c | service / straightforward (forecasts/s) | service / floor | "
             "p99 service / straightforward |", "|---|---|---|---|---|---|"]
    for (processes, series, concurrency, server), r in sorted(index.items()):
        if server != "service":
            continue
        s = index.get((processes, series, concurrency, "straightforward"))
        f = index.get((processes, series, concurrency, "floor"))
        cells = [f"{r['forecasts_per_s'][0] / s['forecasts_per_s'][0]:.2f}x" if s else "",
                 f"{r['forecasts_per_s'][0] / f['forecasts_per_s'][0]:.2f}x" if f else "",
                 f"{r['p99_ms'][0] / s['p99_ms'][0]:.2f}" if s else ""]
        lines.append(f"| {processes} | {series} | {concurrency} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 64, 256])
    parser.add_argument("--series", type=int, nargs="*", default=[1, 32])
    parser.add_argument("--servers", nargs="*", default=["service", "straightforward", "floor"])
    parser.add_argument("--env", nargs="*", default=[], help="KEY=VALUE settings for the service")
    parser.add_argument("--protocol-series", type=int, nargs="*", default=[32, 256],
                        help="series per request of the /v1 JSON vs /v2 binary comparison (none: skip it)")
    parser.add_argument("--protocol-concurrency", type=int, nargs="*", default=[1, 64])
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2],
                        help="server processes (the service's --workers; uvicorn workers for the others)")
    parser.add_argument("--name", default="serving", help="benchmarks/out/NAME.md and NAME.json")
    parser.add_argument("--server-cpus", default="", help="taskset list for the servers (default: 0..N-1)")
    parser.add_argument("--load-cpus", default=str(max(os.sched_getaffinity(0))),
                        help="taskset list for wrk, one wrk thread per CPU (default: the last CPU)")
    args = parser.parse_args()
    global SERVER_CPUS, LOAD_CPUS, LOAD_THREADS
    SERVER_CPUS, LOAD_CPUS, LOAD_THREADS = args.server_cpus, args.load_cpus, cpu_count(args.load_cpus)
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    OUT.mkdir(exist_ok=True)
    closes = DATASETS["stock"].load()["close"].tolist()
    env_extra = dict(item.split("=", 1) for item in args.env)
    points = []
    with tempfile.TemporaryDirectory() as tmp:
        bodies = {}
        v2_bodies, v2_headers = {}, {}
        for n in {*args.series, *args.protocol_series}:
            bodies[n] = Path(tmp) / f"body{n}.json"
            bodies[n].write_text(json.dumps({"series": [{"values": closes[i : i + 30]} for i in range(n)]}))
            v2_bodies[n] = Path(tmp) / f"body{n}.v2"
            v2_headers[n] = v2_body([closes[i : i + 30] for i in range(n)], v2_bodies[n])
        for repeat in range(args.repeats):
            for processes in args.processes:
                for kind in args.servers:
                    process = start(kind, Path(tmp) / "store", env_extra, processes)
                    try:
                        for n in args.series:
                            for c in args.concurrency:
                                point = measure(kind, process, bodies[n], n, c, args.duration, processes)
                                point["repeat"] = repeat
                                points.append(point)
                                print(json.dumps(point), file=sys.stderr)
                        if kind != "service":
                            continue
                        for n in args.protocol_series:  # /v1 JSON beside /v2 binary, the same windows
                            for c in args.protocol_concurrency:
                                for label, path, body, header in (
                                        ("service /v1 json", "/v1/models/stock/forecast", bodies[n], None),
                                        ("service /v2 binary", "/v2/models/stock/infer", v2_bodies[n],
                                         v2_headers[n])):
                                    point = measure(kind, process, body, n, c, args.duration, processes, path,
                                                    header, label)
                                    point["repeat"] = repeat
                                    points.append(point)
                                    print(json.dumps(point), file=sys.stderr)
                    finally:
                        stop(process)
    rows = summarize(points)
    raw = raw_model(args.protocol_series, env_extra.get("GRU_FORECAST_DEVICE", "auto")) if args.protocol_series else {}
    (OUT / f"{args.name}.json").write_text(json.dumps({"points": points, "rows": rows, "raw_model": raw}, indent=1))
    report = markdown(rows) + "\n\n" + ratios(rows)
    if raw:
        report += "\n\n" + protocols(rows, raw)
    save(args.name, report)


def v2_body(windows: list[list[float]], path: Path) -> int:
    """An Open Inference Protocol request with binary tensors (as tritonclient sends it): a JSON
    header, then the raw FP32 windows. Returns the header's length."""
    import numpy as np

    data = np.asarray(windows, dtype="<f4")[:, :, None]
    header = json.dumps({"inputs": [{"name": "INPUT", "shape": list(data.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": data.nbytes}}],
                         "outputs": [{"name": "FORECAST", "parameters": {"binary_data": True}}]}).encode()
    path.write_bytes(header + data.tobytes())
    return len(header)


def raw_model(batches: list[int], device: str = "cpu") -> dict[int, float]:
    """The stock model without HTTP, pinned to the servers' CPUs with one thread (on the service's
    device), in this run: forecasts/s of Predictor.forecast_array at each batch size
    (benchmarks/raw_model.py's timing)."""
    device = "cuda" if device == "auto" and shutil.which("nvidia-smi") else device.replace("auto", "cpu")
    code = ("import json, sys, numpy as np, torch; torch.set_num_threads(1)\n"
            "from benchmarks.raw_model import timed\nfrom model.artifact import load_artifact\n"
            f"from model.cli import PRETRAINED\np = load_artifact(PRETRAINED / 'stock' / 'v1', '{device}').predictor\n"
            "out = {}\nfor b in json.loads(sys.argv[1]):\n"
            "    x = (500 + np.random.default_rng(0).standard_normal((b, 30, 1)).cumsum(1)).astype(np.float32)\n"
            "    out[b] = b / timed(lambda: p.forecast_array(x), 2.0)\nprint(json.dumps(out))")
    out = subprocess.run(["taskset", "-c", cpus_for(1), sys.executable, "-c", code, json.dumps(batches)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {int(k): v for k, v in json.loads(out).items()}


def protocols(rows: list[dict], raw: dict[int, float]) -> str:
    lines = ["| processes | series/req | c | /v1 JSON forecasts/s | /v2 binary forecasts/s | /v2 / /v1 | "
             "/v2 / raw model (1 thread, same batch) |", "|---|---|---|---|---|---|---|"]
    index = {(r["processes"], r["series"], r["concurrency"], r["server"]): r for r in rows}
    for (processes, series, concurrency, server), r in sorted(index.items()):
        if server != "service /v2 binary":
            continue
        v1 = index.get((processes, series, concurrency, "service /v1 json"))
        v2 = r["forecasts_per_s"][0]
        lines.append(f"| {processes} | {series} | {concurrency} | {v1['forecasts_per_s'][0]:,.0f} | {v2:,.0f} | "
                     f"{v2 / v1['forecasts_per_s'][0]:.2f}x | {v2 / raw[series]:.2f}x of {raw[series]:,.0f} |"
                     if v1 else f"| {processes} | {series} | {concurrency} | | {v2:,.0f} | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
