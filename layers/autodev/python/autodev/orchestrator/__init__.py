"""The orchestrator: the Postgres task queue, the scaler, launchers and the worker runtime."""
