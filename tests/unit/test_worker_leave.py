"""The worker's process ends at once when its loop is done (``leave`` in the worker's entry
point): its threads end and its exit handlers run first, its pid file goes last, and Python's
teardown is skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from autodev.orchestrator.launchers import WORKER_SCRIPT

# Run as the worker's process would be: its own threads, an exit handler (logging's flush is
# one), output still in a buffer, and an object only Python's teardown would finalise.
_PROCESS = """
import atexit, json, os, sys, threading
from pathlib import Path
from autodev.local.lambdas import load_module

worker = load_module(sys.argv[1])
pidfile = Path(os.environ["AUTODEV_WORKER_PIDFILE_DIR"]) / f"{os.getpid()}.json"
pidfile.write_text("{}")
notes = open(sys.argv[2], "a")

def note(what):
    notes.write(json.dumps([what, pidfile.exists()]) + "\\n")
    notes.flush()

go = threading.Event()

def last_edit():
    go.wait()
    note("thread")

class Teardown:
    # What it needs is its own: teardown empties names and closes files before it gets here.
    def __init__(self):
        self.write = os.write
        self.fd = os.open(sys.argv[2], os.O_WRONLY | os.O_APPEND)

    def __del__(self):
        self.write(self.fd, b'["teardown", false]\\n')

atexit.register(note, "exit handler")
threading.Thread(target=last_edit).start()
kept = Teardown()
sys.stdout.write("still buffered")
go.set()
worker.leave(3)
"""


def test_leave_ends_threads_and_runs_exit_handlers_before_the_pid_file_goes(
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, str(WORKER_SCRIPT), str(notes)],
        capture_output=True,
        text=True,
        env={**os.environ, "AUTODEV_WORKER_PIDFILE_DIR": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "still buffered"
    seen = [json.loads(line) for line in notes.read_text().splitlines()]
    # The thread ended and the handler ran while the pid file was there; no teardown followed.
    assert seen == [["thread", True], ["exit handler", True]]
    assert not list(tmp_path.glob("*.json"))
