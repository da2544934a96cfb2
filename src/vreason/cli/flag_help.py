"""The typer app class every `vreason` command hangs on: help that shows a flag as a flag.

typer's rich help gives every option a type column, flags included (`--json <bool>`), which reads as "--json
takes a value"; users then type `--json true`, and `true` becomes the next argument (an image path). A flag
takes no value, so its help shows none: `FlagHelpCommand` and `FlagHelpGroup` blank the type column of every
flag (`--help`, `--debug`, `--version` included), and `App` makes them the classes of its commands and itself.
And since people type it anyway (other tools take `--json true`), a flag followed by a yes/no word reads that
word as the flag's value instead of as the next argument: `--json true` is `--json`, `--stats false` is no
`--stats` (or its `--no-...` form where it has one).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# An empty metavar: the help's type column for the option stays empty.
NO_VALUE = ""
# Words a flag takes as its value. Not 1/0: a number after a flag is more likely an argument than a value.
TRUE_WORDS = frozenset({"true", "yes", "on"})
FALSE_WORDS = frozenset({"false", "no", "off"})


class FlagHelpMixin:
    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = NO_VALUE
        return params


class FlagHelpCommand(FlagHelpMixin, TyperCommand):
    """A command whose flags show no value in --help and take `true`/`false` after them."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, flag_words_as_values(self.params, args))


def flag_words_as_values(params: list[Any], args: list[str]) -> list[str]:
    """`args` with each yes/no word after a boolean flag folded into the flag (see the module docstring)."""
    flags = {}
    for param in params:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False):
            for name in param.opts:
                flags[name] = param.secondary_opts[0] if param.secondary_opts else None
            for name in param.secondary_opts:
                flags[name] = param.opts[0]
    out: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":  # everything after it is an argument, "true" included
            out.extend(args[index:])
            break
        word = args[index + 1].lower() if index + 1 < len(args) else None
        if token in flags and word in TRUE_WORDS:
            out.append(token)
            index += 2
        elif token in flags and word in FALSE_WORDS:
            if flags[token] is not None:
                out.append(flags[token])
            index += 2
        else:
            out.append(token)
            index += 1
    return out


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
