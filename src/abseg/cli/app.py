"""The root command: global options, and where every command module is attached."""

from __future__ import annotations

import logging
import sys

import typer

from abseg import __version__
from abseg.cli._typer import command_group

app = command_group(
    "Keep AB Tasty FE&R -> Segment forwarding safe and checkable: secrets in the OS keyring, "
    "validated SegmentIO PUSH connector configs, test events, and a dry-run of the forwarding rule.",
    name="abseg",
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"abseg {__version__}\n")
        raise typer.Exit()


def _trace_http(verbose: bool) -> None:
    """``--verbose``: requests and answers on stderr, secrets masked by the HTTP layer."""
    logger = logging.getLogger("abseg")
    for previous in [h for h in logger.handlers if getattr(h, "abseg_verbose", False)]:
        logger.removeHandler(previous)  # run() may be called again in one process (tests, demo)
    if not verbose:
        logger.setLevel(logging.WARNING)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.abseg_verbose = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Trace HTTP requests and answers on stderr (secrets masked)."
    ),
) -> None:
    _trace_http(verbose)


from abseg.cli import key  # noqa: E402  (command modules attach themselves to ``app``)
from abseg.cli import demo, sandbox  # noqa: E402
from abseg.cli import connector  # noqa: E402
from abseg.cli import test_event  # noqa: E402
from abseg.cli import verify_match  # noqa: E402

app.add_typer(key.app, name="key")
app.add_typer(connector.app, name="connector")
app.command("test-event")(test_event.test_event)
app.command("verify-match")(verify_match.verify_match)
app.command("sandbox")(sandbox.sandbox)
app.command("demo")(demo.demo)
