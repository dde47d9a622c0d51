"""Who the CLI acts as in AWS: the caller's IAM principal (STS), under the deployment's access
settings; never a name or a list from its own environment.

The CLI runs in AWS mode (no ``AWS_ENDPOINT_URL``, so not the local stack) with boto3's
per-service endpoints pointed at moto on loopback: STS answers who the credentials belong to,
Lambda holds the deployed slack_worker function whose environment says who may do what.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autodev import audit
from autodev.aws import client
from autodev.local.stack import FAKE_CREDENTIALS, LocalStack
from autodev.local.testing import wait_for
from autodev.workflows import StartRequest, get_workflow_status, start_workflow

AUTODEV = [sys.executable, "-c", "from autodev.cli import main; main()"]
CALLER = "arn:aws:sts::123456789012:user/moto"  # whom moto's STS says the credentials are
DEPLOYED = "autodev-dev-slack-worker"


def _deploy_access(**variables: str) -> None:
    """The slack_worker function of an environment 'dev', with these access settings."""
    lambdas = client("lambda")
    environment = {"Variables": dict(variables)}
    try:
        lambdas.update_function_configuration(FunctionName=DEPLOYED, Environment=environment)
    except lambdas.exceptions.ResourceNotFoundException:
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
        role = client("iam").get_role(RoleName="autodev-local")["Role"]["Arn"]
        lambdas.create_function(
            FunctionName=DEPLOYED,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
            Environment=environment,
        )


@pytest.fixture
def aws_cli(local_stack: LocalStack, database: str, tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "MOTO_", "APPROVER", "ADMINS", "AUTODEV_USER"))
    }
    env.update(FAKE_CREDENTIALS)
    env.update(
        DATABASE_URL=database,
        AUTODEV_STATE_DIR=str(tmp_path / "state"),
        AUTODEV_ENV="dev",
        AWS_REGION=local_stack.region,
        AUTODEV_STATE_MACHINE_ARN_PREFIX=os.environ["AUTODEV_STATE_MACHINE_ARN_PREFIX"],
        # AWS, as far as the CLI can tell: only boto3's per-service endpoints say where.
        AWS_ENDPOINT_URL_STS=local_stack.endpoint_url,
        AWS_ENDPOINT_URL_LAMBDA=local_stack.endpoint_url,
        AWS_ENDPOINT_URL_SFN=local_stack.endpoint_url,
        # What a caller might set to let themselves through: ignored in AWS.
        APPROVERS=CALLER,
        ADMINS=CALLER,
        COLUMNS="200",
    )
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUTODEV, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_in_aws_the_cli_is_its_iam_principal_under_the_deployments_rules(
    local_stack: LocalStack, aws_cli: dict[str, str]
) -> None:
    started = start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1"))
    wait_for(lambda: get_workflow_status(started.id).status == "running", what="the workflow")
    _deploy_access(APPROVERS="U0RELEASE1", ADMINS="U0ADMIN1")

    # Its own APPROVERS and ADMINS name the caller; the deployment's do not: refused.
    refused = _cli(aws_cli, "workflow", "cancel", started.id)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"autodev: {CALLER} may not cancel workflow {started.id}: a workflow may be cancelled"
        " by who requested it, the approvers (APPROVERS, APPROVER_GROUP) and the admins (ADMINS)"
    )
    assert audit.recent(1, target=started.id)[0]["action"] == "workflow.cancel_refused"
    # Nor can it claim to be someone else.
    claimed = _cli(aws_cli, "workflow", "cancel", started.id, "--as", "U1")
    assert claimed.stderr.strip() == (
        "autodev: --as and AUTODEV_USER work on the local stack only: in AWS the CLI acts as"
        " your IAM principal"
    )
    assert get_workflow_status(started.id).status == "running"

    # The deployment makes the principal an admin (every session of its role would do too).
    _deploy_access(ADMINS="U0ADMIN1,arn:aws:sts::123456789012:user/*")
    done = _cli(aws_cli, "workflow", "cancel", started.id)
    assert done.returncode == 0, done.stderr
    assert f"workflow {started.id} cancelled" in done.stdout
    cancelled = audit.recent(1, target=started.id)[0]
    assert (cancelled["actor"], cancelled["action"]) == (CALLER, "workflow.cancelled")


def test_without_the_deployments_name_the_cli_says_what_to_set(
    local_stack: LocalStack, aws_cli: dict[str, str]
) -> None:
    started = start_workflow(StartRequest("bug-fix", {"description": "NPE"}, "U1"))
    done = _cli({**aws_cli, "AUTODEV_ENV": "local"}, "workflow", "cancel", started.id)
    assert done.returncode == 1
    assert done.stderr.strip().startswith(
        "autodev: in AWS the CLI applies the deployment's approvers and admins: set AUTODEV_ENV"
    )
    missing = _cli({**aws_cli, "AUTODEV_ENV": "prod"}, "workflow", "cancel", started.id)
    assert missing.stderr.strip().startswith(
        "autodev: could not read the deployment's approvers and admins from function"
        " autodev-prod-slack-worker"
    )
    assert get_workflow_status(started.id).status == "running"
