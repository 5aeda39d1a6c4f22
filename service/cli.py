"""The `gru-forecast` command: model/'s train, evaluate and rebuild-defaults, plus serve."""

from __future__ import annotations

import argparse
import logging

from model.cli import build_parser
from model.cli import main as model_main


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.settings import get_settings

    settings = get_settings()
    fmt = ('{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}'
           if settings.log_format == "json" else "%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.basicConfig(level=logging.INFO, format=fmt)
    # One process: N workers would mean N queues and N model copies (see ../shared/LESSONS.md).
    uvicorn.run("service.app:create_app", factory=True, host=args.host or settings.host,
                port=args.port or settings.port, log_level="info", access_log=settings.access_log,
                timeout_graceful_shutdown=30)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    p = commands.add_parser("serve", help="start the HTTP server on the model store (GRU_FORECAST_* settings)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(run=serve)
    return model_main(argv, parser)


if __name__ == "__main__":
    raise SystemExit(main())
