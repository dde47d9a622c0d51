"""What is deployed carries no local stand-in, and gets every setting its code requires.

The autodev layer (as its local bundling builds it) and the worker image's build context (as
the synth wrote it to cdk.out) leave ``autodev/local`` out; so do the repository's
.dockerignore and the Dockerfile's copy list. Every function's environment meets the
settings its handler declares (``NEEDS``; in AWS a missing one stops the cold start), and so
does the worker's.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from typing import Any

from autodev import runtime
from infra.discovery import REPO_ROOT, handler_folders, worker_dockerfile
from infra.layers import PY_TAG, CompiledPackage, runtime_python
from infra.naming import function_name
from infra.workers import DOCKER_EXCLUDES
from tests.infra.conftest import Synth

ENV = "dev"
LOCAL_IN_LAYER = Path("python") / "autodev" / "local"
LOCAL_IN_REPO = Path("layers") / "autodev" / "python" / "autodev" / "local"


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"infra_check_{uuid.uuid4().hex}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _local_files(directory: Path) -> list[str]:
    return [
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if "local" in path.relative_to(directory).parts and "autodev" in path.parts
    ]


def test_the_autodev_layer_holds_the_package_without_the_stand_ins(tmp_path: Path) -> None:
    # What the layer's local bundling makes (the synth of these tests skips bundling).
    assert CompiledPackage().try_bundle(str(tmp_path))
    assert (tmp_path / "python" / "autodev" / "runtime.py").is_file()
    assert (tmp_path / "python" / "autodev" / "slack" / "client.py").is_file()
    assert (REPO_ROOT / "layers" / "autodev" / LOCAL_IN_LAYER / "stack.py").is_file()
    assert not (tmp_path / LOCAL_IN_LAYER).exists()
    assert _local_files(tmp_path) == []
    # Only the runtime's bytecode, if any: none of this machine's own interpreter.
    tags = {path.name.split(".")[-2] for path in tmp_path.rglob("*.pyc")}
    assert tags == ({f"cpython-{PY_TAG}"} if runtime_python() else set())


def test_the_worker_image_context_and_copy_list_leave_the_stand_ins_out(synth: Synth) -> None:
    assets = json.loads((synth.outdir / f"{synth.stack_name}.assets.json").read_text())
    [image] = [image["source"] for image in assets["dockerImages"].values()]
    context = synth.outdir / image["directory"]
    assert (context / "layers" / "autodev" / "python" / "autodev" / "runtime.py").is_file()
    assert not (context / LOCAL_IN_REPO).exists()
    # A plain `docker build` of the repository leaves out the same as the CDK asset does.
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert ignored == DOCKER_EXCLUDES
    assert LOCAL_IN_REPO.as_posix() in ignored
    # Nothing the Dockerfile copies names the stand-ins.
    copies = [
        line for line in worker_dockerfile().read_text().splitlines() if line.startswith("COPY")
    ]
    assert copies
    assert not [line for line in copies if "local" in line]


def _environment(synth: Synth, logical_id: str) -> dict[str, Any]:
    variables: dict[str, Any] = synth.props(logical_id).get("Environment", {}).get("Variables", {})
    return variables


def test_every_function_gets_the_settings_its_handler_requires(synth: Synth) -> None:
    by_name = {
        props["FunctionName"]: logical_id
        for logical_id, resource in synth.resources("AWS::Lambda::Function").items()
        if isinstance(props := resource.get("Properties", {}), dict) and "FunctionName" in props
    }
    unmet = []
    for folder in handler_folders():
        needs = _load(REPO_ROOT / "functions" / folder / "handler.py").NEEDS
        present = dict.fromkeys(_environment(synth, by_name[function_name(ENV, folder)]), "set")
        unmet += [f"{folder}: {need.unmet(present)}" for need in runtime.missing(needs, present)]
    assert unmet == []


def test_the_worker_container_gets_the_settings_the_worker_requires(synth: Synth) -> None:
    needs = _load(REPO_ROOT / "functions" / "claude_worker" / "main.py").NEEDS
    [task_definition] = synth.resources("AWS::ECS::TaskDefinition").values()
    [container] = task_definition["Properties"]["ContainerDefinitions"]
    environment = {entry["Name"]: entry["Value"] for entry in container.get("Environment", [])}
    present = dict.fromkeys(environment, "set")
    assert [need.unmet(present) for need in runtime.missing(needs, present)] == []
    if environment.get("AUTODEV_MODEL_PROVIDER") == "anthropic":
        assert runtime.ANTHROPIC_API_KEY.met(present)
