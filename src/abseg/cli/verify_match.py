"""``abseg verify-match``: would AB Tasty forward this visitor's events to Segment? A dry-run.

One visitor (``--visitor``) prints a verdict with every reason and its fix; many
(``--visitors-file``) stream one result per visitor, a summary on stderr, and exit with the worst
code. Exit codes: 0 forward, 1 no_forward or unverified, 2 bad input, 3 missing credential,
4 service failure.

``--visitors-file --json`` is JSON Lines, in input order: one object per visitor, the single-visitor
document plus ``line`` (the file's line number), or for a visitor without a verdict
``{"line", "visitor_id", "verdict": "invalid"|"error", "exit_code": 2|4, "error": {...}}``; then
always a last line ``{"summary": {"visitors", "verdicts", "reasons", "exit_code", "seconds"}}``,
with ``"aborted": {...}`` when an error stopped the run (bad key, unreadable file...).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from abseg.cli import _output as out
from abseg.errors import AbsegError, BadInput

if TYPE_CHECKING:
    from abseg.forwarding import ForwardingVerdict
    from abseg.verification import BulkSummary, VisitorResult

HEADLINES = {
    "forward": "AB Tasty would forward visitor {id!r} to Segment as {field}",
    "no_forward": "AB Tasty would NOT forward visitor {id!r} to Segment",
    "unverified": "could not verify whether AB Tasty would forward visitor {id!r} to Segment",
}


def verify_match(
    visitor: str | None = typer.Option(None, "--visitor", metavar="ID", help="The visitor ID the app gives the Decision API."),
    visitors_file: str | None = typer.Option(
        None, "--visitors-file", metavar="PATH|-", help="One visitor ID per line, or CSV with a header; '-' reads stdin."
    ),
    connector: str | None = typer.Option(None, "--connector", metavar="NAME|PATH", help="Connector name or path (default: the only one)."),
    anonymous_id: str | None = typer.Option(None, "--anonymous-id", metavar="ID", help="The anonymous ID kept after authenticate()."),
    context: list[str] | None = typer.Option(
        None, "--context", metavar="KEY=VALUE", help="Visitor context KEY=VALUE for targeting (repeatable; true/false and numbers typed)."
    ),
    segment_user_id: str | None = typer.Option(
        None, "--segment-user-id", metavar="ID", help="What analytics.user().userId() returned in the visitor's browser."
    ),
    segment_anonymous_id: str | None = typer.Option(
        None, "--segment-anonymous-id", metavar="ID", help="What analytics.user().anonymousId() returned."
    ),
    column: str | None = typer.Option(None, "--column", metavar="NAME", help="CSV column holding the visitor ID."),
    decision_rate: float = typer.Option(200.0, "--decision-rate", metavar="PER_SECOND", help="Decision API requests per second, at most."),
    profile_rate: float = typer.Option(100.0, "--profile-rate", metavar="PER_SECOND", help="Profile API requests per second, at most."),
    junit_xml: Path | None = typer.Option(None, "--junit-xml", metavar="PATH", help="Also write a JUnit XML report (bulk)."),
    json_output: bool = typer.Option(
        False, "--json", help="One JSON document on stdout (JSON Lines with --visitors-file)."
    ),
) -> None:
    """Dry-run AB Tasty's forwarding rule for a visitor: Decision API (trigger_hit false) + Segment."""
    import math

    from abseg.decision import parse_context

    if (visitor is None) == (visitors_file is None):
        raise BadInput("pass exactly one of --visitor ID and --visitors-file PATH")
    for name, rate in (("--decision-rate", decision_rate), ("--profile-rate", profile_rate)):
        # "inf" and "nan" parse as floats, and either would lift the limit the services enforce.
        if not (math.isfinite(rate) and rate > 0):
            raise BadInput(
                f"{name} must be a positive number of requests per second, not {rate:g}",
                hint=f"give a finite limit, e.g. {name} 50",
            )
    parsed_context = parse_context(context or [])
    rates = {"decision_rate": decision_rate, "profile_rate": profile_rate}
    if visitor is not None:
        per_visitor_only = {"--column": column, "--junit-xml": junit_xml}
        _refuse_with("--visitor", per_visitor_only)
        code = _verify_one(
            visitor, anonymous_id, segment_user_id, segment_anonymous_id, connector, parsed_context, rates, json_output
        )
    else:
        per_row = {"--anonymous-id": anonymous_id, "--segment-user-id": segment_user_id,
                   "--segment-anonymous-id": segment_anonymous_id}
        _refuse_with("--visitors-file", per_row, hint="give them per visitor as CSV columns of the same names")
        assert visitors_file is not None
        if junit_xml is not None:
            from abseg.verification import check_report_path

            check_report_path(junit_xml)  # a bad path found after an hour-long run wastes the hour
        code = _verify_file(visitors_file, column, connector, parsed_context, rates, junit_xml, json_output)
    raise typer.Exit(code)


def _refuse_with(mode: str, options: dict[str, Any], hint: str | None = None) -> None:
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise BadInput(f"{', '.join(given)} cannot be used with {mode}", hint=hint)


# --- one visitor ---------------------------------------------------------------------------------


def _verify_one(
    visitor: str,
    anonymous_id: str | None,
    segment_user_id: str | None,
    segment_anonymous_id: str | None,
    connector_name: str | None,
    context: dict[str, Any],
    rates: dict[str, float],
    json_output: bool,
) -> int:
    from abseg.connector import select_connector
    from abseg.verification import Verifier, VisitorQuery, check_query

    query = VisitorQuery(visitor, anonymous_id, segment_user_id, segment_anonymous_id)
    check_query(query)
    chosen = select_connector(connector_name)
    with Verifier(chosen, context=context, **rates) as verifier:
        verdict = verifier.verify(query)
    if json_output:
        out.print_json({"connector": chosen.name, **verdict.as_json()})
    else:
        _render_verdict(verdict, chosen.name)
    return verdict.exit_code


def _render_verdict(verdict: ForwardingVerdict, connector_name: str) -> None:
    headline = HEADLINES[verdict.verdict.value].format(id=verdict.visitor_id, field=verdict.visitor_field)
    out.say(f"{verdict.verdict.value}: {headline}")
    out.say(f"  connector {connector_name!r}, visitor field {verdict.visitor_field}")
    for fact in verdict.evidence:
        out.say(f"  ok: {fact}")
    for reason in verdict.reasons:
        out.say(f"  [{reason.code}] {reason.message}")
        out.say(f"      fix: {reason.fix}")
    if verdict.simulated_events:
        would = "would send" if verdict.verdict.value == "forward" else "would send if it forwarded"
        out.say(f"  AB Tasty {would} (SIMULATION: the connector's real payload is undocumented):")
        for event in verdict.simulated_events:
            props = event["properties"]
            out.say(
                f"    track {event['event']!r} {verdict.visitor_field}={verdict.visitor_id!r} "
                f"experiment={props['experiment_name']!r} variation={props['variation_name']!r}"
            )
    for warning in verdict.warnings:
        out.warn(warning)


# --- many visitors -------------------------------------------------------------------------------


def _verify_file(
    visitors_file: str,
    column: str | None,
    connector_name: str | None,
    context: dict[str, Any],
    rates: dict[str, float],
    junit_xml: Path | None,
    json_output: bool,
) -> int:
    """Results stream as they come; an error that stops the run still leaves the summary (and the
    JUnit report) of what was done, and a ``--json`` run stays pure JSON Lines."""
    from abseg.connector import select_connector
    from abseg.verification import BulkSummary, JUnitReport, Verifier, verify_many, visitor_queries

    summary = BulkSummary()
    try:
        stream, source, total = _open_visitors(visitors_file)
        with stream as lines:
            queries = visitor_queries(lines, column=column, source=source)
            chosen = select_connector(connector_name)
            report = JUnitReport(junit_xml, suite=f"verify-match {chosen.name}") if junit_xml else None
            try:
                with Verifier(chosen, context=context, **rates) as verifier, _progress(total) as advance:
                    _stream_results(verify_many(verifier, queries), summary, report, json_output, advance)
            except AbsegError as exc:
                summary.abort(exc)
            if summary.visitors == 0 and summary.aborted is None:
                # An empty list must not pass a CI job that meant to check thousands of visitors.
                summary.abort(BadInput(f"{source}: no visitor IDs in it"))
            if report is not None:
                if summary.aborted is not None:
                    report.add_abort(summary.aborted)
                _finish_report(report, summary)
    except AbsegError as exc:
        summary.abort(exc)
    _render_summary(summary, json_output)
    return summary.exit_code


def _finish_report(report: Any, summary: BulkSummary) -> None:
    """A report that cannot be written fails the run, after every visitor got its result line.

    Exit 2, not 1: 1 means a visitor would not be forwarded, and CI logs read it that way; an
    unwritable report is a problem with a file the user named, like the --junit-xml path checked
    before the run. A run that already stopped keeps its first cause (and its code, if worse).
    """
    try:
        report.finish(summary.seconds)
    except AbsegError as exc:
        if summary.aborted is None:
            summary.abort(exc)
        else:
            out.render_error(exc, json_mode=False)
            summary.exit_code = max(summary.exit_code, exc.exit_code)


def _stream_results(
    results: Any, summary: BulkSummary, report: Any, json_output: bool, advance: Any
) -> None:
    for result in results:
        summary.add(result)
        if report is not None:
            report.add(result)
        if json_output:
            out.print_json_line(result.as_json())
        else:
            out.say(_result_line(result))
        advance()


def _result_line(result: VisitorResult) -> str:
    where = f"line {result.query.line}" if result.query.line is not None else ""
    if result.verdict is not None and result.verdict.reasons:
        first = result.verdict.reasons[0]
        detail = f"[{first.code}] {first.message}"
    elif result.error is not None:
        detail = result.error.one_line()
    else:
        detail = ""
    return f"{result.status:<10}  {where:<10}  {result.query.visitor_id!r}  {detail}".rstrip()


def _open_visitors(visitors_file: str) -> tuple[Any, str, int | None]:
    """The text stream, how to name it in messages, and its line count when cheap to know."""
    from contextlib import nullcontext

    from abseg.verification import count_lines

    if visitors_file == "-":
        return nullcontext(sys.stdin), "stdin", None
    path = Path(visitors_file).expanduser()
    try:
        # newline="": the csv module must see the file's own line endings.
        stream = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such visitors file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, not a visitors file") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    total = count_lines(path) if sys.stderr.isatty() else None
    return stream, str(path), total


def _progress(total: int | None) -> Any:
    """A progress bar on stderr when it is a terminal; otherwise nothing at all."""
    from contextlib import contextmanager

    @contextmanager
    def bar() -> Any:
        if not sys.stderr.isatty():
            yield lambda: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

        with Progress(
            SpinnerColumn(), "verifying", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
            # Rich would otherwise reroute our stdout through the bar's console, i.e. to stderr:
            # `verify-match --visitors-file F --json > results.jsonl` at a terminal got an empty file.
            redirect_stdout=sys.stdout.isatty(),
        ) as progress:
            task = progress.add_task("verify", total=total)
            yield lambda: progress.advance(task)

    return bar()


def _render_summary(summary: BulkSummary, json_output: bool) -> None:
    if summary.aborted is not None:
        out.render_error(summary.aborted, json_mode=False)
    if json_output:
        out.print_json_line({"summary": summary.as_json()})
    verdicts = ", ".join(f"{name} {count}" for name, count in sorted(summary.verdicts.items())) or "none"
    out.note(f"{summary.visitors} visitor(s) in {summary.seconds:.1f}s: {verdicts}")
    if summary.reasons:
        out.note("reasons: " + ", ".join(f"{code} {count}" for code, count in summary.reasons.most_common()))
