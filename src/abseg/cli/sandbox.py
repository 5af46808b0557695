"""``abseg sandbox``: run the local stand-ins until interrupted, and say how to point things at them."""

from __future__ import annotations

import signal
import sys
import threading

import typer

from abseg.cli import _output as out
from abseg.errors import BadInput


def sandbox(
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1 (0: any free port).", min=0, max=65535),
    fault_rate: float = typer.Option(
        0.0, "--fault-rate", min=0.0, max=1.0,
        help="Share of requests that fail on purpose (500, 429, slow, dropped connections).",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed for fault injection, to replay a run."),
    campaigns: str | None = typer.Option(None, "--campaigns", help="Campaigns file for the Decision API stand-in."),
    json_output: bool = typer.Option(False, "--json", help="Print the URLs and demo credentials as one JSON document."),
) -> None:
    """Run local stand-ins of the Segment and FE&R Decision APIs on 127.0.0.1 until interrupted."""
    from abseg import sandbox as stand_in

    # Two steps, so that only a failure to bind talks about the port: the campaigns file is read and
    # checked by Sandbox(...), whose ValueError already names the file and what is wrong in it.
    try:
        stand_ins = stand_in.Sandbox(port=port, fault_rate=fault_rate, seed=seed, campaigns_path=campaigns)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    try:
        running = stand_ins.start()
    except OSError as exc:
        raise BadInput(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}", hint="pick another --port, or 0 for any") from None
    credentials = {
        "ABSEG_WRITE_KEY": stand_in.DEMO_WRITE_KEY,
        "ABSEG_DECISION_API_KEY": stand_in.DEMO_DECISION_API_KEY,
        "ABSEG_PROFILE_TOKEN": stand_in.DEMO_PROFILE_TOKEN,
    }
    if json_output:
        out.print_json({
            "url": running.url,
            "environment": running.environ(),
            "demo": {
                **credentials,
                "env_id": stand_in.DEMO_ENV_ID,
                "profile_space": stand_in.DEMO_SPACE_ID,
            },
            "inspect": f"{running.url}/_sandbox/",
        })
    else:
        out.say("# abseg sandbox: paste these lines into your shell (throw-away demo values, not secrets)")
        for name, value in running.environ().items():
            out.say(f"export {name}={value}")
        for name, value in credentials.items():
            out.say(f"export {name}={value}")
        out.say(f"# FE&R environment ID: {stand_in.DEMO_ENV_ID}   Profile API space: {stand_in.DEMO_SPACE_ID}")
        out.say(
            f"# a connector for it: abseg connector create local --env-id {stand_in.DEMO_ENV_ID} "
            "--write-key env:ABSEG_WRITE_KEY --decision-api-key env:ABSEG_DECISION_API_KEY "
            f"--profile-space {stand_in.DEMO_SPACE_ID} --profile-token env:ABSEG_PROFILE_TOKEN"
        )
        out.say(f"# what Segment received: {running.url}/_sandbox/events   all inspection: {running.url}/_sandbox/")
    sys.stdout.flush()
    out.note(f"sandbox listening on {running.url}; Ctrl-C to stop")
    _wait_for_interrupt()
    running.stop()
    out.note("sandbox stopped")


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
