"""autodev: drive Claude Code from Slack on AWS Step Functions, Fargate and Postgres."""

__version__ = "0.1.0"
