"""The failures of the Salesforce tools, each one line a person can act on."""

from __future__ import annotations

from autodev.errors import AutodevError


class SalesforceToolError(AutodevError):
    """A Salesforce tool could not give an answer (as opposed to answering "failed")."""


class ToolMissing(SalesforceToolError):
    """A program the step needs (node, java, sf) or a package it loads is not installed."""


class ToolTimedOut(SalesforceToolError):
    """The tool ran past its time limit and was stopped."""


class ToolFailed(SalesforceToolError):
    """The tool crashed or answered with something that is not its documented output."""


class AnalyzerConfigRefused(SalesforceToolError):
    """Code Analyzer refused its configuration (code-analyzer.yml) or the files it was given."""


class AnalyzerEngineUnavailable(SalesforceToolError):
    """A required Code Analyzer engine could not start (for PMD usually: no usable Java)."""


class SfCommandError(SalesforceToolError):
    """``sf`` answered with an error the step has no typed result for (bad org, bad flags).

    ``name`` is the CLI's error name (``NamedOrgNotFoundError``), ``exit_code`` its status.
    """

    def __init__(self, command: str, name: str, message: str, exit_code: int) -> None:
        super().__init__(f"sf {command} failed ({name}, exit {exit_code}): {message}")
        self.command = command
        self.name = name
        self.exit_code = exit_code
