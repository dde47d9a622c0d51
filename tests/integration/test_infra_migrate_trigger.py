"""The deploy-time migration trigger (infra/runtime/migrate/handler.py) on a real Postgres.

The database secret lives in moto's Secrets Manager (in-process), shaped as RDS writes it; the
handler reads it with Powertools Parameters, migrates, and a second run applies nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from autodev.local.lambdas import load_module
from tests.conftest import ROOT

HANDLER = ROOT / "infra" / "runtime" / "migrate" / "handler.py"


@dataclass(frozen=True)
class _Context:
    function_name: str = "autodev-test-migrate"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:autodev-test"
    aws_request_id: str = "test-request"


@pytest.fixture
def rds_style_secret(empty_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto import mock_aws

    params = conninfo_to_dict(empty_database)
    monkeypatch.delenv("DATABASE_URL")  # the handler must build its own from the secret
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        import boto3

        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="autodev/test/database",
            SecretString=json.dumps(
                {
                    "engine": "postgres",
                    "username": str(params.get("user", "")),
                    "password": str(params.get("password", "")),
                    "host": "instance-host-not-used",
                    "port": 5432,
                }
            ),
        )
        monkeypatch.setenv("DATABASE_SECRET_ARN", secret["ARN"])
        monkeypatch.setenv("DATABASE_HOST", str(params.get("host", "localhost")))
        monkeypatch.setenv("DATABASE_PORT", str(params.get("port", "5432")))
        monkeypatch.setenv("DATABASE_NAME", str(params["dbname"]))
        monkeypatch.setenv("DATABASE_SSLMODE", "disable")
        yield empty_database


def test_the_trigger_applies_pending_migrations_once(rds_style_secret: str) -> None:
    handler = load_module(HANDLER)
    first = handler.handler({}, _Context())
    assert first["applied"], "nothing was applied to an empty database"
    assert first["applied"][0].startswith("0001_")
    with psycopg.connect(rds_style_secret) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    assert len(versions) == len(first["applied"])
    assert handler.handler({}, _Context()) == {"applied": []}
