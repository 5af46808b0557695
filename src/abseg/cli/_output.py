"""Rendering shared by the commands: JSON on stdout, human text, warnings and errors on stderr.

Rich is imported only by the functions that draw tables, so plain commands start fast.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abseg.errors import AbsegError


def redact(text: str) -> str:
    from abseg.secrets import redact as mask_secrets

    return mask_secrets(text)


def print_json(document: Any) -> None:
    sys.stdout.write(redact(json.dumps(document, indent=2, ensure_ascii=False, default=str)) + "\n")


def print_json_line(document: Any) -> None:
    sys.stdout.write(redact(json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)) + "\n")


def say(text: str = "") -> None:
    """A human result line, on stdout."""
    sys.stdout.write(redact(text) + "\n")


def note(text: str) -> None:
    """Progress and remarks for a person, on stderr (never mixed into --json output)."""
    sys.stderr.write(redact(text) + "\n")


def warn(text: str) -> None:
    sys.stderr.write(redact(f"warning: {text}") + "\n")


def render_error(error: AbsegError, *, json_mode: bool) -> None:
    if json_mode:
        document = error.as_json()
        document["error"]["message"] = redact(document["error"]["message"])
        print_json(document)
    sys.stderr.write(redact(f"error: {error.one_line()}") + "\n")


def render_usage_error(error: Any, *, json_mode: bool) -> None:
    ctx = getattr(error, "ctx", None)
    if type(error).__name__ == "NoArgsIsHelpError" and ctx is not None and not json_mode:
        sys.stderr.write(ctx.get_help() + "\n")
        return
    message = " ".join(str(error.format_message()).split()).rstrip(".")
    command = ""
    if ctx is not None:
        command = ctx.command_path
    hint = f"see '{command or 'abseg'} --help'"
    if json_mode:
        print_json({"error": {"type": "usage", "exit_code": 2, "message": redact(message), "hint": hint}})
    sys.stderr.write(redact(f"error: {message}; {hint}") + "\n")


def render_unexpected() -> None:
    sys.stderr.write(redact(traceback.format_exc()))
    sys.stderr.write(
        "abseg: this is a bug in abseg, not in your setup; please report it to the abseg maintainers "
        "with the output above and `abseg --version`\n"
    )


def is_interactive() -> bool:
    """Prompts are allowed only for a person at a terminal, never in CI."""
    return sys.stdin.isatty() and not os.environ.get("CI")


def table(columns: list[str], rows: list[list[str]], *, title: str | None = None) -> None:
    """A table on stdout: Rich at a terminal; plain aligned text, never cut, in pipes and CI logs."""
    cells = [[redact(cell) for cell in row] for row in rows]
    if not sys.stdout.isatty():
        widths = [max(len(text) for text in column) for column in zip(columns, *cells, strict=True)]
        if title:
            say(title)
        for row in [columns, *cells]:
            sys.stdout.write("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip() + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    grid = Table(*columns, title=title, box=None, pad_edge=False, header_style="bold")
    for row in cells:
        grid.add_row(*row)
    Console(soft_wrap=True, highlight=False).print(grid)
