"""One error hierarchy: each error carries the exit code of CLI.md and a one-line message.

The CLI turns any of these into output in one place (``abseg.cli.main``). A message says what is
wrong and, where there is one, how to fix it; it never contains a secret.
"""

from __future__ import annotations

from typing import Any


class AbsegError(Exception):
    """A failure the user can act on. ``exit_code`` is the documented process exit status."""

    exit_code = 1
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
        report: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}
        # What the command found before failing (a check's result): under --json it is the one
        # document printed, with the error beside it, so stdout never holds two documents.
        self.report = report or {}

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message}; {self.hint}"
        return " ".join(text.split())

    def as_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"type": self.kind, "exit_code": self.exit_code, "message": self.message}
        if self.hint:
            payload["hint"] = self.hint
        if self.details:
            payload["details"] = self.details
        return {**self.report, "error": payload}


class CheckFailed(AbsegError):
    """Exit 1: the check ran and failed (would not forward, invalid connector, key unknown...)."""

    exit_code = 1
    kind = "check_failed"


class BadInput(AbsegError):
    """Exit 2: usage error or bad input (arguments, files, visitor IDs)."""

    exit_code = 2
    kind = "bad_input"


class CredentialError(AbsegError):
    """Exit 3: a credential is missing, or the secret store is unavailable."""

    exit_code = 3
    kind = "credential"


class ServiceError(AbsegError):
    """Exit 4: a remote service is unreachable, kept failing after retries, or refused our credentials."""

    exit_code = 4
    kind = "service"
