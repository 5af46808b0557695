"""Test isolation shared by every test: a config dir and an in-memory keyring of its own.

Tests marked ``real_keyring`` get the real Secret Service instead (see tests/real_keyring.py).
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest

from tests.memory_keyring import MemoryKeyring

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
