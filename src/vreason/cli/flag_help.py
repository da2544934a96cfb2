"""The typer app class every `vreason` command hangs on: help that shows a flag as a flag.

typer's rich help gives every option a type column, flags included (`--json <bool>`), which reads as "--json
takes a value"; users then type `--json true`, and `true` becomes the next argument (an image path). A flag
takes no value, so its help shows none: `FlagHelpCommand` and `FlagHelpGroup` blank the type column of every
flag (`--help`, `--debug`, `--version` included), and `App` makes them the classes of its commands and itself.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# An empty metavar: the help's type column for the option stays empty.
NO_VALUE = ""


class FlagHelpMixin:
    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = NO_VALUE
        return params


class FlagHelpCommand(FlagHelpMixin, TyperCommand):
    """A command whose flags show no value in --help."""


class FlagHelpGroup(FlagHelpMixin, TyperGroup):
    """A group whose own flags (--debug, --version, --help) show no value in --help."""


class App(typer.Typer):
    """`typer.Typer` whose group and commands are the flag-help classes (unless a command names its own `cls`,
    which should then derive from `FlagHelpCommand`)."""

    def __init__(self, **options: Any):
        options.setdefault("cls", FlagHelpGroup)
        super().__init__(**options)

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **options: Any) -> Any:
        return super().command(name, cls=cls or FlagHelpCommand, **options)
