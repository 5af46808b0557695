"""Test isolation shared by every test: a config dir and an in-memory keyring of its own.

Tests marked ``real_keyring`` get the real Secret Service instead (the ``secret_service`` fixture).
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest
from hypothesis import settings

from tests.memory_keyring import MemoryKeyring

# No per-example deadline: on a noisy 2-core machine it would be a timing assertion.
settings.register_profile("abseg", deadline=None)
settings.load_profile("abseg")

SECRET_ENV = ("ABSEG_WRITE_KEY", "ABSEG_PROFILE_TOKEN", "ABSEG_DECISION_API_KEY")
URL_ENV = ("ABSEG_SEGMENT_URL", "ABSEG_SEGMENT_CDN_URL", "ABSEG_PROFILE_URL", "ABSEG_DECISION_URL")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, request):
    """Each test: its own ABSEG_CONFIG_DIR, no inherited secrets or service URLs, no prompts."""
    config = tmp_path / "abseg-config"
    monkeypatch.setenv("ABSEG_CONFIG_DIR", str(config))
    for name in SECRET_ENV + URL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CI", "1")
    if "real_keyring" not in request.keywords:
        import keyring

        previous = keyring.get_keyring()
        keyring.set_keyring(MemoryKeyring())
        yield config
        keyring.set_keyring(previous)
    else:
        yield config
    _forget_secrets()


def _forget_secrets() -> None:
    from abseg import secrets

    with secrets._known_lock:
        secrets._known_secrets.clear()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch, request):
    """Retries keep their number, order and Retry-After waits; only our own backoff shrinks.

    Tests of the backoff itself opt out with ``@pytest.mark.real_backoff``.
    """
    if "real_backoff" in request.keywords:
        return
    from abseg.http import RetryPolicy

    monkeypatch.setattr(RetryPolicy, "delay", lambda self, retry_number, rng: 0.002 * retry_number)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def cli(monkeypatch):
    """Run abseg in-process as a user would, returning exit code, stdout and stderr."""

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        from abseg.cli import run

        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        stdout, stderr = io.StringIO(), io.StringIO()
        stdin = io.StringIO(input or "")
        monkeypatch.setattr(sys, "stdin", stdin)
        monkeypatch.setattr(sys, "stdout", stdout)
        monkeypatch.setattr(sys, "stderr", stderr)
        try:
            code = run(list(args))
        finally:
            monkeypatch.setattr(sys, "stdout", sys.__stdout__)
            monkeypatch.setattr(sys, "stderr", sys.__stderr__)
            monkeypatch.setattr(sys, "stdin", sys.__stdin__)
        return Result(code, stdout.getvalue(), stderr.getvalue())

    return invoke


# --- real Secret Service ---------------------------------------------------------------------------

import os  # noqa: E402
import subprocess  # noqa: E402

# Captured at import, before the autouse fixture sets CI for every test. scripts/with-test-keyring
# sets ABSEG_TEST_SECRET_SERVICE: inside it, a Secret Service that does not answer is a failure too.
REAL_KEYRING_REQUIRED = bool(os.environ.get("CI") or os.environ.get("ABSEG_TEST_SECRET_SERVICE"))


def secret_service_problem() -> str | None:
    """Why the real Secret Service cannot be used here, or None when it can."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return "no D-Bus session (run the suite with scripts/test)"
    try:
        from keyring.backends.SecretService import Keyring

        backend = Keyring()
        Keyring.priority  # noqa: B018  (raises when no Secret Service answers)
        backend.set_password("abseg-probe", "probe", "probe")
        backend.delete_password("abseg-probe", "probe")
    except Exception as exc:  # any failure means: not usable
        return f"Secret Service unusable: {type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def secret_service():
    """The real gnome-keyring Secret Service: CI fails without it, a developer's run skips."""
    problem = secret_service_problem()
    if problem:
        if REAL_KEYRING_REQUIRED:
            pytest.fail(f"the real-keyring tests must run in CI: {problem}")
        pytest.skip(problem)
    from keyring.backends.SecretService import Keyring

    return Keyring()


def abseg_process(*args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60):
    """Run abseg as a separate process (what a user's shell does), with the test's environment."""
    import sys

    completed = subprocess.run(
        [sys.executable, "-m", "abseg", *args],
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
