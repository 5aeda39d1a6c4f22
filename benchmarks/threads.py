"""Thread settings and the OpenMP stall: single forward calls and training steps, idle vs other core busy.

    .venv/bin/python -m benchmarks.threads

Each setting runs in a fresh process (OMP_WAIT_POLICY is read when torch loads). "busy" starts a
pure-Python spin loop in another process for the duration. Writes benchmarks/out/threads.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.output import save

PROBE = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
from benchmarks.output import save
from model.artifact import load_artifact
from model.cli import PRETRAINED
p = load_artifact(PRETRAINED / "stock" / "v1").predictor
w = np.random.default_rng(0).standard_normal((1, 30, 1)).astype(np.float32) + 100
times = []
end = time.perf_counter() + 3
while time.perf_counter() < end:
    t = time.perf_counter(); p.forecast_array(w); times.append(time.perf_counter() - t)
net = torch.nn.GRU(1, 64, batch_first=True); head = torch.nn.Linear(64, 5)
opt = torch.optim.Adam([*net.parameters(), *head.parameters()])
x = torch.randn(64, 30, 1); y = torch.randn(64, 5)
steps = []
end = time.perf_counter() + 3
while time.perf_counter() < end:
    t = time.perf_counter(); opt.zero_grad()
    loss = ((head(net(x)[0][:, -1]) - y) ** 2).mean(); loss.backward(); opt.step()
    steps.append(time.perf_counter() - t)
q = lambda a, p: float(np.percentile(a, p) * 1000)
print(json.dumps({"calls": len(times), "p50": q(times, 50), "p99": q(times, 99), "max": max(times) * 1000,
                  "step_p50": q(steps, 50), "step_p99": q(steps, 99)}))
"""


def run(threads: int, busy: bool, passive: bool) -> dict:
    env = {**os.environ}
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        out = subprocess.run([sys.executable, "-c", PROBE, str(threads)], env=env, capture_output=True, text=True,
                             timeout=120, cwd=Path(__file__).resolve().parents[1])
    finally:
        if spinner:
            spinner.kill()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    lines = ["| torch threads | OMP_WAIT_POLICY | other core | forward calls in 3 s | forward p50 ms | p99 ms | "
             "max ms | train step p50 ms | p99 ms |", "|---|---|---|---|---|---|---|---|---|"]
    for threads, passive in ((1, False), (2, False), (2, True)):
        for busy in (False, True):
            r = run(threads, busy, passive)
            lines.append(f"| {threads} | {'PASSIVE' if passive else 'default'} | {'busy' if busy else 'idle'} | "
                         f"{r['calls']:,} | {r['p50']:.3f} | {r['p99']:.3f} | {r['max']:.1f} | {r['step_p50']:.2f} | "
                         f"{r['step_p99']:.2f} |")
    save("threads", "\n".join(lines))


if __name__ == "__main__":
    main()
