"""Small corrections to moto that the local engine needs to behave like AWS.

Each one patches moto (never our code), is applied once, and says what AWS does.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

_applied = False
_lock = threading.Lock()


def apply() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        _keep_task_failure_cause()
        _stop_waiting_tasks_on_stop_execution()
        _keep_answers_given_before_the_wait()
        _name_unnamed_executions()
        _parse_each_definition_once()
        _parse_each_json_path_once()
        _no_error_lines_for_absent_paths()
        _applied = True


def _keep_task_failure_cause() -> None:
    """SendTaskFailure: AWS passes ``cause`` on to the failed state (a Catch's ``Cause``);
    moto's response handler reads only ``error`` and drops it."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        token = self._get_param("taskToken")
        error = self._get_param("error")
        cause = self._get_param("cause")
        backend = self.stepfunction_backend
        try:
            backend.send_task_failure(token, error=error, cause=cause)
        except TypeError:  # the backend without the interpreter takes no cause
            backend.send_task_failure(token, error=error)
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


def _stop_waiting_tasks_on_stop_execution() -> None:
    """StopExecution: AWS aborts the execution at once, even while a Task waits for its task
    token. moto marks it stopped but the waiting thread sleeps until its heartbeat or timeout
    (minutes), so the execution shows RUNNING meanwhile; wake every waiting task so it sees the
    stop and the execution ends ABORTED, as on AWS. The error and cause given are kept, too."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.responses import StepFunctionResponse

    def stop(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        worker = self.exec_worker
        if worker is None:
            return
        wanted = getattr(_stop_reason, "value", None) or (error, cause)
        worker.stop(stop_date=stop_date, error=wanted[0] or None, cause=wanted[1] or None)
        # DescribeExecution of an aborted execution shows the error and cause it was given.
        self.error, self.cause = wanted[0] or None, wanted[1] or None
        for endpoint in list(worker.env.callback_pool_manager._pool.values()):
            endpoint.interrupt_all()

    def stop_execution(self: Any) -> Any:
        _stop_reason.value = (self._get_param("error"), self._get_param("cause"))
        try:
            return original_stop_execution(self)
        finally:
            _stop_reason.value = None

    def keep_stopped(original: Any) -> Any:
        # A woken task fails (it saw no answer); an aborted execution stays aborted.
        def setter(self: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(self._program_state, ProgramStopped):
                return
            original(self, *args, **kwargs)

        return setter

    Environment.set_error = keep_stopped(Environment.set_error)  # type: ignore[method-assign]
    Environment.set_timed_out = keep_stopped(Environment.set_timed_out)  # type: ignore[method-assign]
    original_stop_execution = StepFunctionResponse.stop_execution
    Execution.stop = stop  # type: ignore[method-assign]
    StepFunctionResponse.stop_execution = stop_execution  # type: ignore[method-assign]


def _keep_answers_given_before_the_wait() -> None:
    """SendTaskSuccess/Failure: AWS takes the answer to a task token as soon as the token is
    issued, even before the invoked function has returned (a retried step whose task had
    already finished is answered by enqueue_task itself). moto stores the answer, but a Task
    with HeartbeatSeconds then waits for a heartbeat before it looks at it (minutes); let it
    look at once."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    original = CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(self: Any, heartbeat_seconds: int) -> Any:
        endpoint: Any = original(self, heartbeat_seconds)
        if self.get_outcome() is not None:
            endpoint.notify()
        return endpoint

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]


def _name_unnamed_executions() -> None:
    """StartExecution without a name: AWS names the execution with a UUID (EventBridge
    Scheduler starts executions that way). moto's interpreter leaves the name None, and the
    execution's ARN ends in ``:None``."""
    import uuid

    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def _parse_each_definition_once() -> None:
    """CreateStateMachine, UpdateStateMachine, StartExecution: AWS checks and compiles a
    definition once, when its state machine is created or updated, and an execution starts
    without reading it again. moto's interpreter parses the definition anew (ANTLR, in Python)
    to check it and again at every start: 0.08-0.3 s of CPU each time, before the first state
    of every execution and for every state machine a local stack creates. Parse each
    definition text once (a text that fails to parse is not kept: it fails again). The parsed
    program is a tree of declarations that evaluation only reads (an execution's state lives in
    its own Environment; Parallel and Map make their workers per evaluation), so executions of
    one definition, at once or one after the other, share it."""
    from functools import lru_cache

    from moto.stepfunctions.parser import models
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    parsed = lru_cache(maxsize=64)(AmazonStateLanguageParser.parse)

    class ParsedOnce(AmazonStateLanguageParser):
        # What moto's backend checks a new or changed definition with.
        parse = staticmethod(parsed)

    def entrypoint(self: Any) -> Any:
        return parsed(self._evaluation_details.state_machine_details.definition)[0]

    models.AmazonStateLanguageParser = ParsedOnce  # type: ignore[attr-defined]
    ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign]


def _parse_each_json_path_once() -> None:
    """Every state: AWS evaluates a definition's JSONPaths (InputPath, Parameters' ``.$``
    fields, ResultPath, a Choice's Variable) from the compiled definition. moto's interpreter
    parses each path again every time it reads one, and jsonpath_ng builds a new parser for
    every parse: about a millisecond of CPU each, 55 of them in a bug-fix (64 ms, measured),
    a dozen on the way from one step to the next. Parse each path once. A parsed path is a
    tree that finding and updating only read (what they find is new objects), so every state
    and execution can share it."""
    from functools import lru_cache

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path.parse = lru_cache(maxsize=1024)(json_path.parse)  # type: ignore[attr-defined]
    result_path.parse = lru_cache(maxsize=1024)(result_path.parse)  # type: ignore[attr-defined]


def _no_error_lines_for_absent_paths() -> None:
    """A JSONPath that finds nothing: AWS logs nothing, and a Choice's ``IsPresent`` test
    takes it as its answer (every template's first state asks whether ``$.scheduled_job_id``
    is there). moto's interpreter logs an ERROR line for it
    ("Exception=NoSuchJsonPathError ...") before the test catches it, which the demo printed
    for every ordinary start. Those lines are dropped; where a missing path does fail a state,
    the execution's history says so, as in AWS."""
    from moto.stepfunctions.parser.asl.component import eval_component

    def not_an_absent_path(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Exception=NoSuchJsonPathError")

    eval_component.LOG.addFilter(not_an_absent_path)


# The error and cause of the StopExecution request being handled on this thread.
_stop_reason = threading.local()
