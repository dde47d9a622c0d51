"""The three layers every function gets: Powertools (AWS-published), autodev, dependencies.

The dependency layer is built by local bundling, no Docker: ``uv export`` writes the locked
runtime requirements (no dev or optional groups, without autodev itself, which is its own layer,
and without Powertools, which AWS publishes), then ``uv pip install`` fetches aarch64 wheels
for the Lambda Python into the layer: manylinux_2_28 and older, which the Python 3.13 runtime
(Amazon Linux 2023, glibc 2.34) runs; psycopg-binary publishes aarch64 wheels only for 2_28.
(``uv pip`` rather than ``pip``: uv-made virtual environments have no pip.) Its asset hash is
the hash of uv.lock and pyproject.toml, so the asset only changes when the lock does.

Both built layers (dependencies and autodev) are compiled to bytecode as they are built, by
the Lambda runtime's Python: Lambda cannot write ``__pycache__`` under /opt, so a layer without
bytecode compiles every module from source on every cold start. The bytecode does not check
its source's timestamp (``unchecked-hash``): the zip's timestamps are not the files'. The
runtime's Python is ``python3.13`` on the PATH, else one uv manages, else one pyenv installed
(each tried, since a pyenv shim is on the PATH whether or not its version is selected).
Without one, the layers are built without bytecode, and the build says so.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    DockerImage,
    FileSystem,
    ILocalBundling,
    Stack,
)
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.common import data_removal
from infra.discovery import REPO_ROOT
from infra.settings import EnvSettings

PYTHON_VERSION = "3.13"
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
PY_TAG = PYTHON_VERSION.replace(".", "")
POWERTOOLS_ACCOUNT = "017000801446"
# Provided by other layers, so left out of the dependency layer.
_NOT_IN_DEPS_LAYER = ("aws-lambda-powertools",)
# Left out of the autodev layer: build litter, and the local stack's stand-ins (autodev.local:
# Slack sink, scripted model, test helpers), which no deployed code may reach.
AUTODEV_LAYER = Path("layers") / "autodev"
LOCAL_PACKAGE = "python/autodev/local"
AUTODEV_LAYER_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "**/.mypy_cache",
    "**/*.egg-info",
    LOCAL_PACKAGE,
]


class BundlingError(RuntimeError):
    """The dependency layer could not be built locally."""


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    python = shutil.which("python3") or sys.executable
    return [python, "-m", "uv"]


def _python_candidates() -> list[str]:
    """Where the runtime's Python may be, most specific first."""
    found = [shutil.which(f"python{PYTHON_VERSION}")]
    found.append(_ask([*_uv(), "python", "find", "--no-python-downloads", PYTHON_VERSION]))
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    pattern = f"versions/{PYTHON_VERSION}*/bin/python{PYTHON_VERSION}"
    found += sorted(str(path) for path in pyenv_root.glob(pattern))
    return [candidate for candidate in found if candidate]


def _ask(command: list[str]) -> str | None:
    """What ``command`` prints, or None when it cannot run or fails (no uv, a pyenv shim whose
    version is not selected, which is on the PATH all the same)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _is_runtime_python(python: str) -> bool:
    version = "import sys; print('%d.%d' % sys.version_info[:2])"
    return _ask([python, "-c", version]) == PYTHON_VERSION


@cache
def runtime_python() -> str | None:
    """The Lambda runtime's Python on this machine, or None."""
    return next((python for python in _python_candidates() if _is_runtime_python(python)), None)


def compile_bytecode(directory: Path, python: str | None, *, layer: str = "dependency") -> bool:
    """Compile ``directory``'s modules with ``python`` (the runtime's version); False, with a
    note on stderr, when there is no such interpreter here."""
    if python is None:
        print(
            f"note: no python{PYTHON_VERSION} here; the {layer} layer ships without bytecode"
            " (its modules compile on each cold start)",
            file=sys.stderr,
        )
        return False
    command = [
        python, "-m", "compileall", "-q", "-j", "0",
        "--invalidation-mode", "unchecked-hash", str(directory),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundlingError(f"{layer} layer: compileall failed: {result.stderr.strip()[-2000:]}")
    return True


def _bytecode_tag() -> str:
    # A layer built with bytecode is another asset than one built without.
    return "bytecode" if runtime_python() else "source only"


def lock_digest(root: Path = REPO_ROOT) -> str:
    digest = hashlib.sha256()
    for name in ("uv.lock", "pyproject.toml"):
        digest.update((root / name).read_bytes())
    digest.update(f"{PYTHON_VERSION}-aarch64".encode())
    digest.update(_bytecode_tag().encode())
    return digest.hexdigest()


def autodev_digest(root: Path = REPO_ROOT) -> str:
    """The autodev layer's asset hash: its files as deployed, and whether they are compiled."""
    return FileSystem.fingerprint(
        str(root / AUTODEV_LAYER), exclude=AUTODEV_LAYER_EXCLUDES, extra_hash=_bytecode_tag()
    )


@jsii.implements(ILocalBundling)
class CompiledPackage:
    """The autodev package as the layer ships it (``python/autodev``, without the stand-ins and
    build litter), compiled by the runtime's Python."""

    def __init__(self, root: Path = REPO_ROOT) -> None:
        self._source = root / AUTODEV_LAYER

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        copy_package(self._source, Path(output_dir))
        compile_bytecode(Path(output_dir), runtime_python(), layer="autodev")
        return True


def copy_package(source: Path, target: Path) -> None:
    """Copy the layer's tree from ``source`` into ``target``, leaving out AUTODEV_LAYER_EXCLUDES."""
    # The same list as the asset's fingerprint: "**/name" anywhere, any other a path.
    anywhere = [pattern.removeprefix("**/") for pattern in AUTODEV_LAYER_EXCLUDES]
    litter = shutil.ignore_patterns(*[name for name in anywhere if "/" not in name])
    paths = {pattern for pattern in anywhere if "/" in pattern}

    def ignored(directory: str, names: list[str]) -> set[str]:
        here = Path(directory).relative_to(source)
        excluded = {name for name in names if (here / name).as_posix() in paths}
        return set(litter(directory, names)) | excluded

    shutil.copytree(source, target, ignore=ignored, dirs_exist_ok=True)


@jsii.implements(ILocalBundling)
class LockedDependencies:
    """Installs the locked runtime dependencies as a layer (``python/`` inside the zip)."""

    def __init__(self, root: Path = REPO_ROOT) -> None:
        self._root = root

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        uv = _uv()
        target = Path(output_dir) / "python"
        with tempfile.TemporaryDirectory() as scratch:
            requirements = Path(scratch) / "requirements.txt"
            export = [
                *uv, "export", "--frozen", "--no-dev", "--no-default-groups",
                "--no-emit-project", "--format", "requirements-txt",
                "--output-file", str(requirements),
            ]  # fmt: skip
            for package in _NOT_IN_DEPS_LAYER:
                export += ["--no-emit-package", package]
            install = [
                *uv, "pip", "install", "--quiet", "--no-deps",
                "--requirement", str(requirements), "--target", str(target),
                "--python-platform", "aarch64-manylinux_2_28",
                "--python-version", PYTHON_VERSION, "--only-binary", ":all:",
            ]  # fmt: skip
            for command in (export, install):
                result = subprocess.run(
                    command, cwd=self._root, capture_output=True, text=True, check=False
                )
                if result.returncode != 0:
                    # Fail loudly rather than return False: False would fall back to Docker,
                    # which this project does not use, and hide the real message.
                    raise BundlingError(
                        f"dependency layer: {' '.join(command[len(uv) :][:2])} failed: "
                        f"{result.stderr.strip()[-2000:]}"
                    )
        compile_bytecode(target, runtime_python())
        return True


class Layers(Construct):
    """Powertools by ARN, the autodev package, and the locked third-party dependencies."""

    def __init__(self, scope: Construct, id: str, *, settings: EnvSettings) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            f"arn:{stack.partition}:lambda:{stack.region}:{POWERTOOLS_ACCOUNT}:layer:"
            f"AWSLambdaPowertoolsPythonV3-python{PY_TAG}-arm64:{settings.powertools_layer_version}",
        )
        removal = data_removal(settings)
        self.autodev = lambda_.LayerVersion(
            self,
            "Autodev",
            description="autodev core package (layers/autodev)",
            code=lambda_.Code.from_asset(
                str(REPO_ROOT / AUTODEV_LAYER),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=autodev_digest(),
                bundling=BundlingOptions(
                    image=DockerImage.from_registry("local-bundling-only"),
                    local=CompiledPackage(),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            removal_policy=removal,
        )
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            description="Locked third-party dependencies (uv.lock), aarch64",
            code=lambda_.Code.from_asset(
                str(REPO_ROOT / "infra" / "runtime"),
                asset_hash_type=AssetHashType.CUSTOM,
                asset_hash=lock_digest(),
                bundling=BundlingOptions(
                    # Required by the API, never pulled: local bundling always succeeds or
                    # raises.
                    image=DockerImage.from_registry("local-bundling-only"),
                    local=LockedDependencies(),
                ),
            ),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            removal_policy=removal,
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        # Order matters: later layers win where files overlap, so the locked dependencies
        # (e.g. pydantic) come after the Powertools layer's copies.
        return [self.powertools, self.dependencies, self.autodev]
