"""``abseg demo``: the whole flow against an in-process sandbox, with throw-away state.

Each step is printed as the command a user would type and then run exactly as that command (the
same ``run`` a shell invocation goes through), so what the newcomer sees is what they will get.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import typer

from abseg.cli import _output as out

VISITOR_KNOWN = "demo-visitor-1"
VISITOR_UNKNOWN = "demo-visitor-never-seen"


@dataclass(frozen=True)
class Step:
    why: str
    args: list[str]
    expected_exit: int = 0
    stdin: str | None = None


@dataclass(frozen=True)
class StepResult:
    step: Step
    exit_code: int
    output: str

    @property
    def as_expected(self) -> bool:
        return self.exit_code == self.step.expected_exit

    def as_json(self) -> dict[str, object]:
        return {
            "command": "abseg " + " ".join(self.step.args),
            "why": self.step.why,
            "exit_code": self.exit_code,
            "expected_exit_code": self.step.expected_exit,
            "as_expected": self.as_expected,
        }


def demo(json_output: bool = typer.Option(False, "--json", help="Print one JSON document summing up every step.")) -> None:
    """Run the whole flow (key, connector, test event, verify-match) against a built-in sandbox."""
    from abseg import sandbox as stand_in

    with _throwaway_environment(), stand_in.Sandbox() as running:
        os.environ.update(running.environ())
        store_note = _choose_secret_store()
        names = _demo_key_names()
        if not json_output:
            out.say("abseg demo: everything below runs against a local sandbox of Segment and AB Tasty FE&R,")
            out.say(f"with a throw-away config dir and demo keys. {store_note}\n")
        results = []
        try:
            for step in _steps(names, stand_in):
                results.append(_run_step(step, quiet=json_output))
        finally:
            _forget_keys(names)
    failed = [r for r in results if not r.as_expected]
    if json_output:
        out.print_json({"ok": not failed, "secret_store": store_note, "steps": [r.as_json() for r in results]})
    if failed:
        from abseg.errors import CheckFailed

        first = failed[0]
        raise CheckFailed(
            f"the demo step `abseg {' '.join(first.step.args)}` exited {first.exit_code}, "
            f"expected {first.step.expected_exit}",
            hint="this is a bug in abseg: please report it with the output above",
        )
    if not json_output:
        out.say("\nThe demo behaved as expected. Against the real services, the same commands without the")
        out.say("sandbox: store your write key with `abseg key set NAME`, then `abseg connector create ...`,")
        out.say("`abseg connector validate --online`, `abseg test-event --visitor ID`, `abseg verify-match --visitor ID`.")


def _steps(names: dict[str, str], stand_in) -> list[Step]:  # noqa: ANN001
    write, decision, profile = names["write"], names["decision"], names["profile"]
    return [
        Step("Store the Segment write key in the OS keyring (read from stdin, never an argument).",
             ["key", "set", write, "--stdin"], stdin=stand_in.DEMO_WRITE_KEY),
        Step("Store the FE&R Decision API key.",
             ["key", "set", decision, "--kind", "decision-api-key", "--stdin"], stdin=stand_in.DEMO_DECISION_API_KEY),
        Step("Store the Segment Profile API token.",
             ["key", "set", profile, "--kind", "profile-token", "--stdin"], stdin=stand_in.DEMO_PROFILE_TOKEN),
        Step("List the keys: values are masked, and the source is shown.", ["key", "list"]),
        Step("Ask Segment's settings CDN whether it knows the write key.", ["key", "check", write]),
        Step("Record the SegmentIO PUSH connector: which FE&R environment pushes to which Segment source.",
             ["connector", "create", "demo", "--env-id", stand_in.DEMO_ENV_ID, "--write-key", write,
              "--decision-api-key", decision, "--profile-space", stand_in.DEMO_SPACE_ID, "--profile-token", profile]),
        Step("Validate it, offline and against the services.", ["connector", "validate", "demo", "--online"]),
        Step("Send a test identify and track for a visitor.", ["test-event", "--visitor", VISITOR_KNOWN]),
        Step("Would AB Tasty forward this visitor's events? Segment knows the ID: yes (exit 0).",
             ["verify-match", "--visitor", VISITOR_KNOWN]),
        Step("And for a visitor Segment has never seen? No (exit 1), and abseg says why.",
             ["verify-match", "--visitor", VISITOR_UNKNOWN], expected_exit=1),
    ]


def _run_step(step: Step, *, quiet: bool) -> StepResult:
    from abseg.cli import run

    if not quiet:
        sys.stdout.flush()
        out.say(f"# {step.why}")
        shown = " ".join(step.args)
        out.say(f"$ abseg {shown}" + ("   # secret piped on stdin" if step.stdin else ""))
    captured_out, captured_err = io.StringIO(), io.StringIO()
    streams = (sys.stdin, sys.stdout, sys.stderr)
    sys.stdin = io.StringIO(step.stdin or "")
    if quiet:
        sys.stdout, sys.stderr = captured_out, captured_err
    try:
        code = run(step.args)
    finally:
        sys.stdin, sys.stdout, sys.stderr = streams
    if not quiet:
        verdict = "as expected" if code == step.expected_exit else f"UNEXPECTED, wanted {step.expected_exit}"
        out.say(f"  -> exit {code} ({verdict})\n")
    return StepResult(step, code, captured_out.getvalue() + captured_err.getvalue())


@contextlib.contextmanager
def _throwaway_environment() -> Iterator[None]:
    """A temporary config dir and none of the user's ABSEG_* variables, all restored afterwards."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("ABSEG_")}
    try:
        with tempfile.TemporaryDirectory(prefix="abseg-demo-") as config:
            for key in saved:
                del os.environ[key]
            os.environ["ABSEG_CONFIG_DIR"] = config
            yield
    finally:
        for key in [k for k in os.environ if k.startswith("ABSEG_")]:
            del os.environ[key]
        os.environ.update(saved)


_memory_store_in_use = False


def _choose_secret_store() -> str:
    """The OS keyring when it works; else an announced in-memory store that dies with the demo."""
    global _memory_store_in_use
    from abseg.errors import CredentialError
    from abseg.secrets import OSKeyring

    probe = f"abseg-demo-probe-{uuid.uuid4().hex[:8]}"
    try:
        keyring = OSKeyring()
        keyring.set(probe, "probe")
        keyring.delete(probe)
        return "Keys go to your OS keyring and are deleted at the end."
    except CredentialError as exc:
        import keyring as keyring_module

        keyring_module.set_keyring(_DemoMemoryKeyring())
        _memory_store_in_use = True
        return (
            f"No usable OS keyring here ({exc.message}): the demo keeps its keys in memory, for this run "
            "only. Real use needs the OS keyring or ABSEG_* variables; abseg never writes secrets to files."
        )


def _demo_key_names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    return {kind: f"abseg-demo-{kind}-{suffix}" for kind in ("write", "decision", "profile")}


def _forget_keys(names: dict[str, str]) -> None:
    if _memory_store_in_use:
        return
    from abseg.errors import AbsegError
    from abseg.secrets import OSKeyring

    keyring = OSKeyring()
    for name in names.values():
        with contextlib.suppress(AbsegError):
            keyring.delete(name)


def _DemoMemoryKeyring():  # noqa: N802  (a class made on demand: keyring is imported lazily)
    from keyring.backend import KeyringBackend

    class DemoMemoryKeyring(KeyringBackend):
        """Holds the demo's throw-away keys in this process's memory; gone when the demo ends."""

        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self._entries: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self._entries.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self._entries[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            from keyring.errors import PasswordDeleteError

            if self._entries.pop((service, username), None) is None:
                raise PasswordDeleteError(username)

    return DemoMemoryKeyring()
