"""The command line: thin commands over the core, and the one place errors become output."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

COMPLETE_VAR = "_ABSEG_COMPLETE"


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run abseg with ``argv`` and return its exit code; every error is rendered here, once."""
    import typer
    from typer import _click
    from typer.main import get_command

    from abseg.cli._output import render_error, render_unexpected, render_usage_error
    from abseg.cli.app import app
    from abseg.errors import AbsegError

    if COMPLETE_VAR in os.environ:
        # Only a completion request pays for loading the shell completion classes.
        from typer._completion_classes import completion_init

        completion_init()
    args = list(sys.argv[1:] if argv is None else argv)
    json_mode = "--json" in args
    try:
        result = get_command(app).main(args=args, prog_name="abseg", standalone_mode=False)
    except AbsegError as exc:
        render_error(exc, json_mode=json_mode)
        return exc.exit_code
    except _click.exceptions.ClickException as exc:
        render_usage_error(exc, json_mode=json_mode)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        print("abseg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception:  # a bug: show it, so it can be reported
        render_unexpected()
        return 1
    return result if isinstance(result, int) else 0
