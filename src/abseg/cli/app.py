"""The root command: global options, and where every command module is attached."""

from __future__ import annotations

import logging
import sys

import typer

from abseg import __version__

app = typer.Typer(
    name="abseg",
    help="Keep AB Tasty FE&R -> Segment forwarding safe and checkable: secrets in the OS keyring, "
    "validated SegmentIO PUSH connector configs, test events, and a dry-run of the forwarding rule.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"abseg {__version__}\n")
        raise typer.Exit()


def _trace_http(verbose: bool) -> None:
    """``--verbose``: requests and answers on stderr, secrets masked by the HTTP layer."""
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("abseg")
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

app.add_typer(key.app, name="key")
