"""``abseg test-event``: send an identify and a track for one visitor ID, after checking the write key."""

from __future__ import annotations

import json

import typer

from abseg.cli import _output as out


def test_event(
    visitor: str = typer.Option(..., "--visitor", help="The visitor ID your app gives the Decision API."),
    connector: str | None = typer.Option(
        None, "--connector", help="Connector name or file (default: the only one; none: ABSEG_WRITE_KEY alone)."
    ),
    event: str | None = typer.Option(None, "--event", help="Name of the track event [default: abseg Test Event]."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the exact requests (key masked) and send nothing; no network at all."
    ),
    repeat: int = typer.Option(
        1, "--repeat", min=1, max=10_000,
        help="Send N identify+track pairs through /v1/batch (reliability tests); each event is listed.",
    ),
    retries: int = typer.Option(3, "--retries", min=0, max=10, help="Retries per request on 5xx, 429 and network errors."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Seconds to wait for each answer."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
) -> None:
    """Send a test identify + track to Segment for --visitor, after checking the write key exists."""
    from abseg.http import RetryPolicy
    from abseg.tracking import (
        DEFAULT_TEST_EVENT,
        check_event_name,
        resolve_target,
        send_test_events,
    )
    from abseg.visitor import check_visitor_id

    # `--event ""` (say, from an unset shell variable) is a mistake, not a request for the default.
    event_name = DEFAULT_TEST_EVENT if event is None else event
    # A typo is exit 2 before the keyring or a connector file is read.
    check_visitor_id(visitor)
    check_event_name(event_name)
    report = send_test_events(
        resolve_target(connector),
        visitor,
        event_name=event_name,
        repeat=repeat,
        dry_run=dry_run,
        policy=RetryPolicy(attempts=retries + 1, timeout=timeout),
    )
    if json_output:
        out.print_json(report.as_json())
    elif report.dry_run:
        _print_requests(report)
    else:
        _print_calls(report)


def _print_requests(report) -> None:
    for request in report.requests:
        out.say(f"{request['method']} {request['url']}")
        for name, value in request["headers"].items():
            out.say(f"{name}: {value}")
        out.say()
        out.say(json.dumps(request["body"], indent=2, ensure_ascii=False))
        out.say()
    region = report.target.region or "not configured: US assumed here, a real run takes it from the settings CDN"
    out.note(
        f"dry run: nothing sent, not even the write key check (key {report.target.write_key.masked} "
        f"from {report.target.write_key.origin}, region {region})"
    )


def _print_calls(report) -> None:
    from abseg.tracking import DEBUGGER

    target = report.target
    region = report.key_check.region
    ingests = f"ingests in {region.upper()}" if region else "region not stated by Segment"
    out.note(f"Segment knows the write key {target.write_key.masked} (from {target.write_key.origin}; {ingests}).")
    for call in report.calls:
        kind, first_id = call.events[0]
        if len(call.events) == 1:
            out.say(f"{kind:<8}  HTTP {call.status}  POST {call.endpoint}  messageId {first_id}")
        else:
            ids = f"messageIds {first_id} ... {call.events[-1][1]} (all listed with --json)"
            out.say(f"{'batch':<8}  HTTP {call.status}  POST {call.endpoint}  {len(call.events)} events, {ids}")
    total = sum(len(call.events) for call in report.calls)
    out.say(
        f"Segment received {total} events for {target.visitor_field} {report.visitor_id!r}. It answers 200 "
        f"before processing, so look for them in {DEBUGGER}."
    )
