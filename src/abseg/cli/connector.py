"""``abseg connector``: create, validate, list, show, delete connector files and print their checklist."""

from __future__ import annotations

from typing import Any

import typer

from abseg.cli import _output as out
from abseg.cli._typer import command_group
from abseg.errors import BadInput, CheckFailed, CredentialError, ServiceError

app = command_group("Record, validate and inspect SegmentIO PUSH connectors (FE&R environment -> Segment source).")

JSON = typer.Option(False, "--json", help="Print one JSON document on stdout.")
NAME = typer.Argument(..., help="The connector's name (or a path to its .toml file).")


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Name of the connector (its file is connectors/NAME.toml)."),
    env_id: str = typer.Option(..., "--env-id", help="AB Tasty FE&R environment ID."),
    write_key: str = typer.Option(..., "--write-key", help="Stored key name of the Segment write key, or env:VAR."),
    region: str = typer.Option("us", "--region", help="Segment region of the source: us or eu (any case)."),
    visitor_field: str = typer.Option(
        "userId", "--visitor-field", help="Segment identifier the app passes as visitor ID: userId or anonymousId."
    ),
    decision_api_key: str | None = typer.Option(
        None, "--decision-api-key", help="Stored key name of the Decision API key, or env:VAR."
    ),
    profile_space: str | None = typer.Option(None, "--profile-space", help="Segment Unify space ID (spa_...)."),
    profile_token: str | None = typer.Option(
        None, "--profile-token", help="Stored key name of the Profile API token, or env:VAR."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing connector of that name."),
    json_output: bool = JSON,
) -> None:
    """Write a connector file holding references to secrets, never the secrets."""
    from abseg.connector import missing_key_warnings, new_connector, save_connector

    connector = new_connector(
        name,
        env_id=env_id,
        write_key=write_key,
        # Segment's UI writes regions as "US"/"EU"; the file keeps the lower-case form it validates.
        region=region.lower(),
        visitor_field=visitor_field,
        decision_api_key=decision_api_key,
        profile_space=profile_space,
        profile_token=profile_token,
    )
    path = save_connector(connector, force=force)
    warnings = missing_key_warnings(connector)
    for warning in warnings:
        out.warn(warning)
    if json_output:
        out.print_json({"name": connector.name, "path": str(path), "created": True, "warnings": warnings})
    else:
        out.note(f"Created connector {connector.name!r} ({path}).")
        out.note(f"Next: `abseg connector checklist {connector.name}` for the AB Tasty side.")


@app.command("validate")
def validate(
    targets: list[str] | None = typer.Argument(None, help="Connector names or paths (default: every connector)."),
    online: bool = typer.Option(
        False, "--online", help="Also ask Segment and FE&R whether the keys, environment and token work."
    ),
    json_output: bool = JSON,
) -> None:
    """Report every problem of the connectors at once (0 valid, 1 invalid, 2 unreadable; --online: 3, 4)."""
    from abseg.connector import check_online, validate_connectors

    reports = validate_connectors(list(targets or []))
    if not reports:
        raise BadInput("no connector to validate", hint="create one with `abseg connector create`")
    online_checks = {id(r): check_online(r.connector) for r in reports if online and r.valid}
    documents = []
    for report in reports:
        document = report.as_json()
        if id(report) in online_checks:
            document["online"] = [check.as_json() for check in online_checks[id(report)]]
        documents.append(document)
    code = _validate_exit_code(reports, [c for checks in online_checks.values() for c in checks])
    if json_output:
        out.print_json({"valid": code == 0, "connectors": documents})
    else:
        for document in documents:
            _render_validation(document)
    if code:
        raise typer.Exit(code)


def _validate_exit_code(reports: list[Any], checks: list[Any]) -> int:
    # Unreadable files (2) first, then anything that needs fixing (1): retrying cannot help those. Then
    # a missing credential (3) and an unreachable service (4), which may pass on another run.
    if any(r.unreadable for r in reports):
        return BadInput.exit_code
    if any(not r.valid for r in reports) or any(c.status == "failed" for c in checks):
        return CheckFailed.exit_code
    if any(c.status == "missing-credential" for c in checks):
        return CredentialError.exit_code
    if any(c.status == "unreachable" for c in checks):
        return ServiceError.exit_code
    return 0


def _render_validation(document: dict[str, Any]) -> None:
    label = document["name"] or document["path"]
    if document.get("error"):
        out.say(f"unreadable: {document['error']}")
        return
    if not document["valid"]:
        count = len(document["problems"])
        out.say(f"invalid: {label} ({document['path']}), {count} problem{'s' if count > 1 else ''}")
        for problem in document["problems"]:
            where = problem["field"] + (f" (line {problem['line']})" if problem["line"] else "")
            out.say(f"  {where}: {problem['message']}")
        return
    out.say(_valid_file_headline(label, document))
    for check in document.get("online", []):
        out.say(f"  {check['check']}: {check['status']}: {check['message']}")


def _valid_file_headline(label: str, document: dict[str, Any]) -> str:
    """"ok" only when the online checks agree: a valid file with a rejected key is not ok."""
    statuses = [check["status"] for check in document.get("online", [])]
    failed = statuses.count("failed")
    not_run = statuses.count("missing-credential") + statuses.count("unreachable")
    where = f"{label} ({document['path']})"
    if not failed and not not_run:
        return f"ok: {where}"
    if failed:
        counts = f"{_online_checks(failed)} failed" + (f", {not_run} could not run" if not_run else "")
        return f"failed: {where}: file ok, {counts}"
    return f"unverified: {where}: file ok, {_online_checks(not_run)} could not run"


def _online_checks(count: int) -> str:
    return f"{count} online check{'s' if count > 1 else ''}"


@app.command("list")
def list_connectors(json_output: bool = JSON) -> None:
    """List the connectors; unreadable or invalid files are named, never in the way of the others."""
    from abseg.connector import list_connectors as collect

    reports = collect()
    if json_output:
        out.print_json({"connectors": [_list_row(r) for r in reports]})
        return
    if not reports:
        out.note("No connectors. Create one with `abseg connector create NAME --env-id ENV_ID --write-key KEYNAME`.")
        return
    rows = []
    for report in reports:
        row = _list_row(report)
        rows.append([row["name"], row["env_id"] or "", row["region"] or "", row["status"]])
        if row.get("problem"):
            out.warn(row["problem"])
    out.table(["NAME", "ENV", "REGION", "STATUS"], rows)


def _list_row(report: Any) -> dict[str, Any]:
    connector = report.connector
    row: dict[str, Any] = {
        "name": connector.name if connector else report.path.stem,
        "path": str(report.path),
        "env_id": connector.env_id if connector else None,
        "region": connector.region if connector else None,
        "status": "ok",
    }
    if report.unreadable:
        row["status"] = "unreadable"
        row["problem"] = report.unreadable.one_line()
    elif connector is None:
        count = len(report.problems)
        row["status"] = "invalid"
        row["problem"] = (
            f"{report.path}: {count} problem{'s' if count > 1 else ''}, first {report.problems[0]}; "
            f"see them all with `abseg connector validate {report.path}`"
        )
    return row


@app.command("show")
def show(name: str = NAME, json_output: bool = JSON) -> None:
    """Show a connector: its settings, where each secret comes from (masked), what verify-match can check."""
    from abseg.connector import load_connector, show_connector

    document = show_connector(load_connector(name))
    if json_output:
        out.print_json(document)
        return
    out.say(f"connector {document['name']} ({document['path']})")
    out.say(f"  FE&R environment  {document['env_id']}")
    out.say(f"  Segment region    {document['region']}")
    out.say(f"  visitor ID is     Segment's {document['visitor_field']}")
    if document["profile_space"]:
        out.say(f"  Unify space       {document['profile_space']}")
    for kind, secret in document["secrets"].items():
        if secret["status"] == "ok":
            shown = f"{secret['value']} (from {secret['source']})"
        elif secret["status"] == "not configured":
            shown = "not configured"
        else:
            shown = f"missing ({secret['reference']}): {secret['problem']}"
        out.say(f"  {kind:<17} {shown}")
    for service, url in document["urls"].items():
        out.say(f"  {service + ' URL':<17} {url}")
    out.say("verify-match can use:")
    for capability in document["verify_match"].values():
        out.say(f"  - {capability}")


@app.command("delete")
def delete(name: str = NAME, json_output: bool = JSON) -> None:
    """Delete a connector file (the keys it refers to stay in the keyring)."""
    from abseg.connector import delete_connector

    path = delete_connector(name)
    if json_output:
        out.print_json({"name": name, "path": str(path), "deleted": True})
    else:
        out.note(f"Deleted connector {name!r} ({path}). Its keys stay in the keyring (`abseg key list`).")


@app.command("checklist")
def checklist(name: str = NAME, json_output: bool = JSON) -> None:
    """Print the manual AB Tasty Integration Hub steps, filled in with this connector's values."""
    from abseg.connector import checklist as steps_for
    from abseg.connector import load_connector

    connector = load_connector(name)
    steps = steps_for(connector)
    if json_output:
        out.print_json({"name": connector.name, "steps": steps})
        return
    out.say(f"Set up connector {connector.name!r} in AB Tasty (manual: no public API exists for it):")
    for number, step in enumerate(steps, 1):
        out.say(f"{number}. {step}")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of connector files (for editors)."""
    import sys

    from abseg.connector import json_schema_text

    sys.stdout.write(json_schema_text())
