"""``abseg key``: store, list, print, delete and check secrets kept in the OS keyring."""

from __future__ import annotations

import os
import sys

import typer

from abseg.cli import _output as out
from abseg.cli._typer import command_group
from abseg.errors import BadInput, CheckFailed

app = command_group("Keep Segment write keys, Profile API tokens and Decision API keys in the OS keyring.")

JSON = typer.Option(False, "--json", help="Print one JSON document on stdout.")
KINDS = ["write-key", "profile-token", "decision-api-key"]


def _read_secret(kind_label: str, from_stdin: bool) -> str:
    if from_stdin:
        data = sys.stdin.read()
        # One trailing line ending is how `echo` and files end; anything else is part of the value.
        return data.removesuffix("\n").removesuffix("\r")
    if not out.is_interactive():
        why = "CI is set, so abseg does not prompt" if os.environ.get("CI") else "no terminal to ask on"
        raise BadInput(
            f"no {kind_label} given and {why}",
            hint="pipe it in with --stdin (a secret is never taken as an argument)",
        )
    first = typer.prompt(f"{kind_label}", hide_input=True, err=True)
    second = typer.prompt("again, to confirm", hide_input=True, err=True)
    if first != second:
        raise BadInput("the two entries differ", hint="run the command again")
    return first


@app.command("set")
def set_key(
    name: str = typer.Argument(..., help="Name to store the secret under (e.g. prod)."),
    kind: str = typer.Option("write-key", "--kind", help="What the secret is."),
    stdin: bool = typer.Option(False, "--stdin", help="Read the secret from standard input instead of a prompt."),
    json_output: bool = JSON,
) -> None:
    """Store a secret in the OS keyring (hidden prompt, or --stdin). Never pass it as an argument."""
    from abseg.secrets import check_key_name, shadowing_override, store_key

    secret_kind = _kind(kind)
    check_key_name(name)
    _require_keyring()
    value = _read_secret(secret_kind.label, stdin)
    warnings = store_key(name, secret_kind, value)
    shadowed = shadowing_override(name)
    if shadowed:
        warnings.append(shadowed)
    for warning in warnings:
        out.warn(warning)
    if json_output:
        out.print_json({"name": name, "kind": secret_kind.value, "stored": True, "warnings": warnings})
    else:
        out.note(f"Stored {secret_kind.label} {name!r} in the OS keyring.")


@app.command("list")
def list_keys(json_output: bool = JSON) -> None:
    """List stored keys with their source (env or keyring) and a masked value."""
    from abseg.secrets import list_keys as collect

    rows, warnings = collect()
    for warning in warnings:
        out.warn(warning)
    if json_output:
        out.print_json({"keys": [row.as_json() for row in rows], "warnings": warnings})
        return
    if not rows:
        out.note("No keys stored. Add one with `abseg key set NAME --stdin`.")
        return
    out.table(
        ["NAME", "KIND", "SOURCE", "VALUE"],
        [[r.name, r.kind.value, f"env ({r.origin})" if r.source == "env" else "keyring", r.masked or (r.problem or "missing")] for r in rows],
    )


@app.command("get")
def get_key(name: str = typer.Argument(..., help="The stored key's name.")) -> None:
    """Print the raw secret on stdout, for piping into another tool."""
    from abseg.secrets import read_key, shadowing_override

    _require_keyring()
    secret = read_key(name)
    warning = shadowing_override(name)
    if warning:
        out.warn(warning)
    if sys.stdout.isatty():
        out.note(f"(from {secret.origin}; this is the raw secret)")
    sys.stdout.write(secret.value + "\n")


@app.command("delete")
def delete_key(name: str = typer.Argument(..., help="The stored key's name."), json_output: bool = JSON) -> None:
    """Remove a secret from the OS keyring and its name from the index."""
    from abseg.secrets import delete_key as remove

    _require_keyring()
    remove(name)
    if json_output:
        out.print_json({"name": name, "deleted": True})
    else:
        out.note(f"Deleted {name!r}.")


@app.command("check")
def check_key(name: str = typer.Argument(..., help="The stored write key's name."), json_output: bool = JSON) -> None:
    """Ask Segment's settings CDN whether the write key exists (0 yes, 1 unknown, 4 unreachable)."""
    from abseg.secrets import KeyIndex, SecretKind, check_key_name, resolve_secret
    from abseg.settings_cdn import fetch_source_settings

    check_key_name(name)
    entry = KeyIndex().get(name)
    if entry and entry.kind is not SecretKind.WRITE_KEY:
        raise BadInput(f"{name!r} is a {entry.kind.label}; only write keys can be checked with the settings CDN")
    secret = resolve_secret(SecretKind.WRITE_KEY, f"keyring:{name}")
    settings = fetch_source_settings(secret.value)
    document = {"name": name, "source": secret.origin, "value": secret.masked, **settings.as_json()}
    if not settings.exists:
        raise CheckFailed(
            f"Segment does not know the write key {name!r} ({secret.masked}, from {secret.origin})",
            hint="copy the write key again from Segment: Connections > Sources > your source > Settings > API Keys",
            report=document,
        )
    if json_output:
        out.print_json(document)
    else:
        region = f", ingests in {settings.region.upper()}" if settings.region else ""
        out.say(f"ok: Segment knows the write key {name!r} ({secret.masked}, from {secret.origin}{region})")


def _require_keyring() -> None:
    """For commands that work on the stored keys themselves (set, get, delete): an env override
    cannot stand in for the keyring here, so the fix offered is the keyring alone. ``set`` calls it
    before prompting, so nobody types a secret that could not be stored."""
    from abseg.errors import CredentialError
    from abseg.secrets import OSKeyring

    try:
        OSKeyring().backend_name()
    except CredentialError as exc:
        raise CredentialError(
            exc.message,
            hint="install and unlock a Secret Service (e.g. gnome-keyring) or another OS keyring; abseg never "
            "stores secrets in files (in CI, give them as ABSEG_* variables instead of storing them)",
        ) from None


def _kind(value: str):
    from abseg.secrets import SecretKind

    try:
        return SecretKind(value)
    except ValueError:
        raise BadInput(f"unknown key kind {value!r}", hint=f"use one of: {', '.join(KINDS)}") from None
