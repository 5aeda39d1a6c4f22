"""Several worker processes: uvicorn's supervisor (it restarts a worker that dies, drains them all on
SIGTERM and rolls them on SIGHUP), with one SO_REUSEPORT listening socket per worker.

Why not `uvicorn --workers N` as it is: its workers share one listening socket, and the event loop
that wakes first accepts a whole burst of new connections. Measured here (benchmarks/serving.py, two
workers, wrk's 64 connections): every connection landed on one worker (mean batch 64, 1.0 of 2 CPUs
busy). With a socket per worker the kernel spreads connections over the workers by address hash,
and a worker only listens once its models are loaded (uvicorn listens after the lifespan start-up),
so a restarted worker takes no connection it cannot serve yet.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import multiprocess

log = logging.getLogger("uvicorn.error")


def listener(config: uvicorn.Config) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    sock.set_inheritable(True)
    return sock


class _Worker(multiprocess.Process):
    """uvicorn's worker process, given a listening socket of its own instead of the shared one."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        self.listener = listener(config)
        super().__init__(config, [self.listener])

    def start(self) -> None:
        super().start()
        self.listener.close()  # the worker holds its own descriptor; none may linger here unaccepted


def run(config: uvicorn.Config) -> None:
    """Serve config.app in config.workers processes until SIGINT or SIGTERM."""
    original: Any = multiprocess.Process
    multiprocess.Process = _Worker  # type: ignore[misc]  # every worker the supervisor starts or restarts
    try:
        listener(config).close()  # the port is free (or shared by reuse-port only): fail here, not per worker
        log.info("Uvicorn running on http://%s:%d with %d worker processes (Press CTRL+C to quit)",
                 config.host, config.port, config.workers)
        multiprocess.Multiprocess(config, sockets=[]).run()
    finally:
        multiprocess.Process = original  # type: ignore[misc]
