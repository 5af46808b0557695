"""How every abseg command group is made, so they all behave (and start) alike."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup


class CommandGroup(TyperGroup):
    """A Typer group whose help flag defaults to False instead of None.

    Typer coerces every parameter value that is not already a bool through a pydantic TypeAdapter,
    and an untouched help flag is None: so every subcommand and every TAB completion imported
    pydantic (about 60 ms) just to learn that --help was not given.
    """

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option


def command_group(help: str, **settings: Any) -> typer.Typer:
    """A Typer app with abseg's settings.

    ``rich_markup_mode=None`` keeps help on Click's plain formatter: Typer's Rich help costs more than
    the whole rest of start-up, and `abseg --help` runs on every TAB and in CI loops.
    """
    return typer.Typer(
        help=help,
        cls=CommandGroup,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        **settings,
    )
