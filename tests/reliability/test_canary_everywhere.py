"""A canary write key, Decision API key and Profile API token run through every command.

The canaries are real credentials of the sandbox, so every command actually uses them: stored with
``key set --stdin``, then ``key``, ``connector``, ``test-event`` and ``verify-match`` run in human
and ``--json`` form, each also with ``--verbose`` first, and on failing paths (services down,
unknown key, refused key, every request faulted). None of the canaries (nor the base64 of
``KEY:`` that HTTP Basic auth carries) may appear in stdout, stderr, any file under the config dir,
a JUnit report, or an exception's text. Only ``abseg key get`` prints a raw value, on purpose.

Each command runs as a fresh process would: the in-process list of secrets to redact is emptied
before it, so a leak cannot be hidden by a secret an earlier command happened to resolve.
"""

from __future__ import annotations

import base64
import json
import traceback
from pathlib import Path

import pytest

from abseg.sandbox import Sandbox
from tests.conftest import abseg_process

CANARY_WRITE_KEY = "CANARYwriteKEY0123456789abcdefXY"
CANARY_API_KEY = "CANARYdecisionKEY0123456789abcXY"
CANARY_TOKEN = "CANARYprofileTOKEN0123456789abXY"
# Same shape, never registered in the sandbox: the "unknown" and "refused" paths.
UNKNOWN_WRITE_KEY = "CANARYunknownWRITE0123456789abXY"
WRONG_API_KEY = "CANARYwrongDECISION0123456789aXY"
WRONG_TOKEN = "CANARYwrongTOKEN0123456789abcdXY"

ENV_ID, SPACE_ID = "canary-env", "spa_canary"


def _basic(value: str) -> str:
    return base64.b64encode(f"{value}:".encode()).decode()


RAW = (CANARY_WRITE_KEY, CANARY_API_KEY, CANARY_TOKEN, UNKNOWN_WRITE_KEY, WRONG_API_KEY, WRONG_TOKEN)
FORMS = RAW + tuple(_basic(v) for v in (CANARY_WRITE_KEY, UNKNOWN_WRITE_KEY, CANARY_TOKEN, WRONG_TOKEN))


def leaks(text: str) -> list[str]:
    return [form for form in FORMS if form in text]


def forget_secrets() -> None:
    from abseg import secrets

    with secrets._known_lock:
        secrets._known_secrets.clear()


class Runner:
    """Runs commands as fresh processes would, checking each one's output for canaries."""

    def __init__(self, cli):
        self._cli = cli
        self.ran: list[tuple[tuple[str, ...], int]] = []

    def __call__(self, *args: str, expect: int | set[int], input: str | None = None, verbose_too: bool = True):
        variants = [args, ("--verbose", *args)] if verbose_too else [args]
        results = []
        for argv in variants:
            forget_secrets()
            result = self._cli(*argv, input=input)
            expected = {expect} if isinstance(expect, int) else expect
            assert result.exit_code in expected, (argv, result.output)
            assert leaks(result.stdout) == [], (argv, "stdout", result.stdout)
            assert leaks(result.stderr) == [], (argv, "stderr", result.stderr)
            assert "Traceback" not in result.stderr, (argv, result.stderr)
            if "--verbose" in argv and result.exit_code != 2:
                assert "->" in result.stderr or "<-" in result.stderr or not _talks_to_services(argv), (argv, result.stderr)
            self.ran.append((argv, result.exit_code))
            results.append(result)
        return results[0]


def _talks_to_services(argv: tuple[str, ...]) -> bool:
    return ("test-event" in argv and "--dry-run" not in argv) or "verify-match" in argv or "--online" in argv or "check" in argv


def assert_no_canary_in_files(*roots: Path) -> None:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                text = path.read_bytes().decode("utf-8", "replace")
                assert leaks(text) == [], f"{path}: {leaks(text)}"




@pytest.fixture
def sandbox(monkeypatch):
    with Sandbox(retry_after_seconds=0, slow_seconds=0.01) as sb:
        sb.register_space(SPACE_ID, CANARY_TOKEN)
        sb.register_write_key(CANARY_WRITE_KEY, region="us", space_id=SPACE_ID)
        sb.register_environment(ENV_ID, CANARY_API_KEY)
        for name, value in sb.environ().items():
            monkeypatch.setenv(name, value)
        yield sb
        for request in sb.decision_requests():
            assert request["body"]["trigger_hit"] is False
        assert sb.activate_calls() == [] and sb.hit_calls() == []


@pytest.fixture
def run(cli, sandbox, isolated):
    """Keys stored from stdin and connector ``c`` created with them; the runner for everything else."""
    runner = Runner(cli)
    for name, kind, value in (
        ("w", "write-key", CANARY_WRITE_KEY),
        ("d", "decision-api-key", CANARY_API_KEY),
        ("p", "profile-token", CANARY_TOKEN),
        ("unknown", "write-key", UNKNOWN_WRITE_KEY),
        ("wrong-d", "decision-api-key", WRONG_API_KEY),
        ("wrong-p", "profile-token", WRONG_TOKEN),
    ):
        runner("key", "set", name, "--kind", kind, "--stdin", input=value + "\n", expect=0, verbose_too=False)
    create = ("connector", "create", "c", "--env-id", ENV_ID, "--write-key", "w", "--decision-api-key", "d",
              "--profile-space", SPACE_ID, "--profile-token", "p")
    runner(*create, expect=0, verbose_too=False)
    runner("--verbose", *create, expect=2, verbose_too=False)  # exists already
    runner("--verbose", *create, "--force", "--json", expect=0, verbose_too=False)
    yield runner
    assert_no_canary_in_files(isolated)


def test_key_get_is_the_one_command_that_prints_the_raw_value(run, cli):
    forget_secrets()
    got = cli("key", "get", "w")
    assert got.exit_code == 0
    assert got.stdout == CANARY_WRITE_KEY + "\n"  # so the leak checks here can fail at all
    assert leaks(got.stdout) == [CANARY_WRITE_KEY]


def test_every_command_on_its_happy_path_keeps_the_canaries_secret(run, sandbox, tmp_path):
    junit = tmp_path / "reports" / "verify.xml"
    for form in ((), ("--json",)):
        run("key", "list", *form, expect=0)
        run("key", "check", "w", *form, expect=0)
        run("connector", "list", *form, expect=0)
        run("connector", "show", "c", *form, expect=0)
        run("connector", "validate", "c", *form, expect=0)
        run("connector", "validate", "c", "--online", *form, expect=0)
        run("connector", "checklist", "c", *form, expect=0)
        run("test-event", "--visitor", "v1", "--dry-run", *form, expect=0)
        run("test-event", "--visitor", "v1", *form, expect=0)
        run("verify-match", "--visitor", "v1", *form, expect=0)
        run("verify-match", "--visitor", "v2", "--anonymous-id", "anon-2", "--context", "isVIP=true", *form, expect=1)
        run("verify-match", "--visitors-file", "-", "--junit-xml", str(junit), *form,
            input="v1\nv2\nundefined\n", expect=2)
    run("connector", "schema", expect=0)
    run("connector", "validate", expect=0)
    assert_no_canary_in_files(junit.parent)
    assert [e["status"] for e in sandbox.events()].count("accepted") == 8  # the canary key really sent
    assert any(r["status"] == 200 for r in sandbox.decision_requests())  # the canary API key really worked


def test_secrets_from_the_environment_stay_secret_too(run, cli, monkeypatch, isolated):
    monkeypatch.setenv("ABSEG_WRITE_KEY", CANARY_WRITE_KEY)
    monkeypatch.setenv("ABSEG_DECISION_API_KEY", CANARY_API_KEY)
    monkeypatch.setenv("ABSEG_PROFILE_TOKEN", CANARY_TOKEN)
    for form in ((), ("--json",)):
        run("key", "list", *form, expect=0)
        run("connector", "show", "c", *form, expect=0)
        run("test-event", "--visitor", "env-1", *form, expect=0)
        run("verify-match", "--visitor", "env-1", *form, expect=0)
    # Without any connector: ABSEG_WRITE_KEY alone.
    (isolated / "connectors" / "c.toml").unlink()
    run("test-event", "--visitor", "env-2", "--json", expect=0)
    run("test-event", "--visitor", "env-2", "--dry-run", expect=0)


def test_services_down_keep_the_canaries_secret(run, monkeypatch):
    with Sandbox() as stopped:
        closed = stopped.environ()
    for name, value in closed.items():
        monkeypatch.setenv(name, value)
    for form in ((), ("--json",)):
        run("key", "check", "w", *form, expect=4)
        run("connector", "validate", "c", "--online", *form, expect=4)
        run("test-event", "--visitor", "v1", "--retries", "0", *form, expect=4)
        run("verify-match", "--visitor", "v1", *form, expect=4)
        run("verify-match", "--visitors-file", "-", *form, input="v1\nv2\n", expect=4)


def test_unknown_and_refused_credentials_keep_the_canaries_secret(run, sandbox):
    run("connector", "create", "unknown-key", "--env-id", ENV_ID, "--write-key", "unknown", expect=0, verbose_too=False)
    run("connector", "create", "wrong-keys", "--env-id", ENV_ID, "--write-key", "w", "--decision-api-key", "wrong-d",
        "--profile-space", SPACE_ID, "--profile-token", "p", expect=0, verbose_too=False)
    run("connector", "create", "wrong-token", "--env-id", ENV_ID, "--write-key", "w", "--decision-api-key", "d",
        "--profile-space", SPACE_ID, "--profile-token", "wrong-p", expect=0, verbose_too=False)
    for form in ((), ("--json",)):
        run("key", "check", "unknown", *form, expect=1)
        run("test-event", "--visitor", "v1", "--connector", "unknown-key", *form, expect=1)
        run("connector", "validate", "unknown-key", "--online", *form, expect=1)
        run("verify-match", "--visitor", "v1", "--connector", "wrong-keys", *form, expect=4)  # 403
        run("verify-match", "--visitors-file", "-", "--connector", "wrong-keys", *form, input="v1\n", expect=4)
        run("connector", "validate", "wrong-keys", "--online", *form, expect={1, 4})
        run("verify-match", "--visitor", "v1", "--connector", "wrong-token", *form, expect=4)  # 401
        run("connector", "validate", "wrong-token", "--online", *form, expect={1, 4})
        run("key", "check", "d", *form, expect=2)  # not a write key
        run("key", "get", "missing", *form[:0], expect=3, verbose_too=False)
    statuses = {r["status"] for r in sandbox.decision_requests()}
    assert 403 in statuses  # the wrong canary key really reached the Decision API


def test_every_request_faulted_keeps_the_canaries_secret(run, sandbox):
    # Every request gets a fault; one in five is only "slow", so a retried call may still succeed.
    sandbox.set_fault_rate(1.0)
    for form in ((), ("--json",)):
        run("key", "check", "w", *form, expect={0, 4})
        run("connector", "validate", "c", "--online", *form, expect={0, 4})
        run("test-event", "--visitor", "v1", "--retries", "1", *form, expect={0, 4})
        run("verify-match", "--visitor", "v1", *form, expect={0, 1, 4})
        run("verify-match", "--visitors-file", "-", *form, input="v1\nv2\n", expect={0, 1, 4})
    assert len(sandbox.faults()) > 20
    assert [code for _, code in run.ran].count(4) >= 10


def test_canaries_in_subprocesses_with_verbose(sandbox, isolated):
    """A real process, secrets from the environment as in CI: traces and answers stay clean."""
    env = sandbox.environ() | {
        "ABSEG_WRITE_KEY": CANARY_WRITE_KEY,
        "ABSEG_DECISION_API_KEY": CANARY_API_KEY,
        "ABSEG_PROFILE_TOKEN": CANARY_TOKEN,
    }
    created = abseg_process(
        "connector", "create", "c", "--env-id", ENV_ID, "--write-key", "env:ABSEG_WRITE_KEY",
        "--decision-api-key", "env:ABSEG_DECISION_API_KEY", "--profile-space", SPACE_ID,
        "--profile-token", "env:ABSEG_PROFILE_TOKEN", env=env,
    )
    sent = abseg_process("--verbose", "test-event", "--visitor", "p1", env=env)
    verified = abseg_process("--verbose", "verify-match", "--visitor", "p1", "--json", env=env)
    assert (created.exit_code, sent.exit_code, verified.exit_code) == (0, 0, 0), verified.stderr
    assert "x-api-key" in verified.stderr.lower() and "authorization" in sent.stderr.lower()  # traced, masked
    for result in (created, sent, verified):
        assert leaks(result.output) == []
    assert_no_canary_in_files(isolated)


def test_exception_text_from_the_clients_never_holds_a_secret(sandbox, monkeypatch):
    """The errors the core raises (and their whole chain) are as clean as what the CLI prints."""
    from abseg.decision import DecisionClient
    from abseg.errors import AbsegError
    from abseg.profiles import IdType, ProfileClient
    from abseg.settings_cdn import fetch_source_settings
    from abseg.tracking import TrackingClient, build_test_events, plan_requests

    with Sandbox() as stopped:
        closed = stopped.url
    for name in sandbox.environ():  # the URLs given here, not the sandbox's from the environment
        monkeypatch.delenv(name)
    attempts = [
        lambda: DecisionClient(sandbox.decision_url, ENV_ID, WRONG_API_KEY).campaigns("v1"),
        lambda: ProfileClient(sandbox.profile_url, SPACE_ID, WRONG_TOKEN).lookup(IdType.USER_ID, "v1"),
        lambda: fetch_source_settings(UNKNOWN_WRITE_KEY, f"{closed}/cdn"),
        lambda: TrackingClient(CANARY_WRITE_KEY, f"{closed}/segment").send(
            plan_requests(build_test_events("v1", "userId", "E"), batch=False)
        ),
        lambda: DecisionClient(f"{closed}/decision", ENV_ID, CANARY_API_KEY).campaigns("v1"),
        lambda: ProfileClient(f"{closed}/profiles", SPACE_ID, CANARY_TOKEN).lookup(IdType.USER_ID, "v1"),
    ]
    for number, attempt in enumerate(attempts):
        forget_secrets()
        with pytest.raises(AbsegError) as caught:
            attempt()
            pytest.fail(f"attempt {number} did not fail")
        error = caught.value
        text = "".join(traceback.format_exception(error, chain=True))
        context = error.__context__
        while context is not None:  # even a suppressed context could end up in a log or a bug report
            text += "".join(traceback.format_exception_only(context))
            context = context.__context__
        text += json.dumps(error.as_json(), default=str) + repr(error.args) + str(error.hint)
        assert leaks(text) == [], (error.one_line(), leaks(text))


def test_sandbox_inspection_never_shows_a_write_key_in_full(sandbox):
    """docs/sandbox.md: "Write keys never appear in full" in /_sandbox/ answers, faults included."""
    import httpx

    sandbox.set_fault_rate(1.0)
    for _ in range(3):
        try:
            httpx.get(f"{sandbox.cdn_url}/v1/projects/{CANARY_WRITE_KEY}/settings", timeout=5)
            httpx.post(f"{sandbox.segment_url}/v1/track", json={"userId": "v", "event": "E"},
                       auth=(CANARY_WRITE_KEY, ""), timeout=5)
        except httpx.TransportError:
            pass
    sandbox.set_fault_rate(0)
    assert sandbox.faults()
    for path in ("", "events", "faults", "decision-requests", "calls", "profiles"):
        answer = httpx.get(f"{sandbox.url}/_sandbox/{path}", timeout=5).text
        assert leaks(answer) == [], (path, leaks(answer))
