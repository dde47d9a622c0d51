"""The CDK app: ``cdk synth -c env=dev|prod`` (cdk.json runs ``python -m infra.app``).

cdk-nag's AwsSolutions checks run on every synth as a CDK policy-validation plugin (cdk-nag 3:
``Validations.of(app).add_plugins``); an unacknowledged error fails the synth and is listed in
``cdk.out/policy-validation-report.json``. Acknowledgments, each with its reason, are in
infra/nag.py.
"""

from __future__ import annotations

import os

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.settings import load_env_settings
from infra.stack import AutodevStack


def build_app(app: App | None = None) -> tuple[App, AutodevStack]:
    # The JSON report lets tests (and CI logs) read every finding, not just the first error.
    app = app or App(context={"@aws-cdk/core:validationReportJson": True})
    settings = load_env_settings(app.node)
    # Environment-agnostic unless the operator's shell names an account and region
    # (cdk deploy sets CDK_DEFAULT_*): synth needs no AWS credentials.
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    stack = AutodevStack(app, f"Autodev-{settings.env_name}", settings=settings, env=env)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
