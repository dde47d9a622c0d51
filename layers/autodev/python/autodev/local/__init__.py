"""The local stack and every stand-in: AWS on loopback (moto), the embedded Postgres, local
services (Slack sink and gateway, scripted model server, rescuer and delivery loops, the alert
evaluator and metric retention, the EventBridge Scheduler ticker), the echo
runner and the pytest plugin. Production code never imports this package: the stack reaches
it only through settings (``SLACK_API_URL``, ``AUTODEV_SCRIPTED_MODEL_URL``, ...), and the
Lambda layer and the worker image leave it out.

Two ways to run it:

- In a test or the demo, in-process: ``with LocalStack() as stack: ...`` starts moto's server
  in a thread on a free loopback port, turns on moto's Step Functions interpreter, hooks Lambda
  invocations to ``functions/*/handler.py`` in-process (``lambdas``), creates the Lambda
  functions, the ``autodev`` event bus and one state machine ``autodev-<template>`` per
  ``statemachines/*.asl.json`` (rendered like infra/ renders them), and exports
  ``AWS_ENDPOINT_URL``, fake credentials and ``AWS_REGION`` so every boto3 client goes there.
  Pytest fixtures: ``autodev.local.testing`` (``local_stack``, ``worker_double``).
- For a developer, in the background: ``autodev local up`` runs migrations on the embedded
  Postgres (or ``DATABASE_URL``) and starts ``python -m autodev.local.server``, which runs a
  ``LocalStack`` with ``default_services()`` and writes ``AUTODEV_STATE_DIR/local.json``;
  other processes call :func:`activate` (the CLI does) to point themselves at it.
  ``autodev local status`` and ``autodev local down`` read the same file.

Adding a service: a ``LocalService(name=..., start=...)`` in a module of this package, added
to the list in ``services.default_services``. ``start(stack)`` gets the running
``LocalStack`` and returns an object with ``stop()``; use ``stack.export(NAME, value)`` to
publish an endpoint or setting to other processes. Tests that want a service pass
``LocalStack(services=[...])``.

Where things are: ``slack/`` (sink, gateway, signed sender, the stack's signing secret),
``model/`` (the scripted Messages API server and its sessions), ``echo`` (a runner without
Claude Code, and its worker entry point), ``delivery``, ``orchestrator``, ``monitoring`` and
``reconcile`` (the loops that stand in for the scheduled functions; the reconciler also runs
once as the stack starts, for workflows a previous stack left running), ``scheduler`` (the
ticker that fires the schedules moto stores), ``access`` (the person running the stack
approves and administers it), ``salesforce`` and ``sf/`` (the stand-in ``sf`` the tool
steps run, and the registered orgs ``local`` and ``ci``), ``testing`` (the pytest plugin).
``stack.note(...)`` tells that person something (``autodev local up`` and the demo print it).

Names: the local function of ``functions/<folder>`` is called ``<folder>``, and its name is
exported as ``<FOLDER>_FUNCTION`` (for example ``SLACK_WORKER_FUNCTION=slack_worker``), as
``AUTODEV_SCALER_FUNCTION`` for the scaler and as ``AUTODEV_DELIVERY_FUNCTION`` for
deliver_results (a finished workflow's delivery is kicked asynchronously, as in AWS).
"""

from autodev.local.services import LocalService, RunningService, default_services
from autodev.local.stack import LocalStack, function_env_name, function_name
from autodev.local.state import activate, read_state, running_state

__all__ = [
    "LocalService",
    "LocalStack",
    "RunningService",
    "activate",
    "default_services",
    "function_env_name",
    "function_name",
    "read_state",
    "running_state",
]
