"""The autodev CDK app: one stack, one construct per concern (see infra/README.md)."""
