"""Prometheus values across worker processes (multiprocess mode): what a scrape of any worker answers."""

import subprocess
import sys
import textwrap

WORKER = textwrap.dedent("""
    import sys, time
    from service.telemetry import Telemetry

    class Registry:  # a worker serving the store's 5 models
        models = {}

    telemetry = Telemetry()
    telemetry.refresh(Registry())
    telemetry.models_loaded.set(5)
    if sys.argv[1] == "scrape":
        print(telemetry.exposition().decode())
    else:
        time.sleep(30)  # the other worker, alive while the first one is scraped
""")


def test_models_loaded_is_the_services_count_not_a_sum_over_workers(tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    other = subprocess.Popen([sys.executable, "-c", WORKER, "serve"], env=env)
    try:
        for _ in range(100):  # the other worker has written its value
            if list(tmp_path.glob("gauge_livemax_*.db")):
                break
            subprocess.run(["sleep", "0.1"])
        out = subprocess.run([sys.executable, "-c", WORKER, "scrape"], env=env, capture_output=True, text=True,
                             check=True).stdout
    finally:
        other.kill()
        other.wait()
    lines = dict(line.rsplit(" ", 1) for line in out.splitlines() if line and not line.startswith("#"))
    assert lines["gru_processes"] == "2.0"  # two live workers ...
    assert lines["gru_models_loaded"] == "5.0"  # ... serving the same 5 models: 5, not 10
