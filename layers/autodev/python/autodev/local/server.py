"""The background process of ``autodev local up``: a LocalStack with every local service.

Run as ``python -m autodev.local.server --port N``. It writes ``AUTODEV_STATE_DIR/local.json``
once everything is up (``ready: true``) and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from datetime import UTC, datetime
from types import FrameType

from autodev.config import settings_or_exit
from autodev.local.services import default_services
from autodev.local.stack import LocalStack
from autodev.local.state import write_state
from autodev.observability import child_logger

log = child_logger(__name__)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="autodev.local.server")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--postgres", default="embedded", help="recorded in local.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # moto's per-request log lines drown everything else.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = settings_or_exit()

    stop = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        del number, frame
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    with LocalStack(port=args.port, services=default_services()) as stack:
        write_state(
            {
                "ready": True,
                "pid": os.getpid(),
                "started_at": datetime.now(UTC).isoformat(),
                "postgres": args.postgres,
                **stack.describe(),
            },
            settings.autodev_state_dir,
        )
        log.info("local stack up at %s", stack.endpoint_url)
        stop.wait()
        log.info("local stack stopping")


if __name__ == "__main__":
    main()
