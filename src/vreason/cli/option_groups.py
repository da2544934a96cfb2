"""Option groups for typer commands: options declared once, as the fields of a dataclass, and shared by commands.

    @dataclass(frozen=True)
    class Sampling:
        help_panel: ClassVar[str] = "Sampling"
        temperature: Annotated[float | None, typer.Option(help="0 = greedy.")] = None
        seed: Annotated[int | None, typer.Option(help="Seed for sampling.")] = None

    @with_option_groups
    def ask(question: str, sampling: Sampling, quick: Annotated[Sampling, Fields("seed")]) -> None:
        ...  # `sampling` is a Sampling made from --temperature and --seed

A parameter typed with a group stands, in the signature typer reads, for the group's fields (keyword-only, in
the group's field order, shown under the group's help panel); `Annotated[Group, Fields(...)]` takes only the
named fields and leaves the others at their defaults. The command receives one instance of the group. Adding a
field to a group adds the option to every command that takes the whole group.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from copy import copy
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

from typer.models import OptionInfo

R = TypeVar("R")


class Fields:
    """`Annotated[Group, Fields("a", "b")]`: the command offers only options a and b of the group."""

    def __init__(self, *names: str):
        if not names:
            raise TypeError("Fields() needs at least one field name")
        self.names = names


@dataclasses.dataclass(frozen=True)
class GroupUse:
    """How one command parameter takes a group: which group, which of its fields."""

    group: type
    names: tuple[str, ...]


@functools.cache
def group_parameters(group: type) -> dict[str, inspect.Parameter]:
    """The fields of `group` as keyword-only parameters under its help panel, built once per group (so every
    command that takes the group carries the very same option declarations)."""
    if not dataclasses.is_dataclass(group):
        raise TypeError(f"{group.__name__} is not a dataclass, so it cannot be an option group")
    hints = get_type_hints(group, include_extras=True)
    panel = getattr(group, "help_panel", None)
    parameters = {}
    for field in dataclasses.fields(group):
        hint = hints[field.name]
        infos = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, OptionInfo)]
        if get_origin(hint) is not Annotated or len(infos) != 1:
            raise TypeError(f"{group.__name__}.{field.name} must be Annotated[type, typer.Option(...)]")
        info = infos[0]
        if panel and info.rich_help_panel is None:
            info = copy(info)
            info.rich_help_panel = panel
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = inspect.Parameter.empty  # a required option
        parameters[field.name] = inspect.Parameter(
            field.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[get_args(hint)[0], info]
        )
    return parameters


def group_use(annotation: Any) -> GroupUse | None:
    """The group a parameter annotation names (a group class, or Annotated[group, Fields(...)]), else None."""
    names: tuple[str, ...] | None = None
    if get_origin(annotation) is Annotated:
        chosen = [m for m in annotation.__metadata__ if isinstance(m, Fields)]
        if not chosen:
            return None
        annotation, names = get_args(annotation)[0], chosen[0].names
    if not (isinstance(annotation, type) and dataclasses.is_dataclass(annotation)):
        if names is not None:
            raise TypeError(f"Fields{names} is given for {annotation!r}, which is not an option group dataclass")
        return None
    fields = tuple(group_parameters(annotation))
    unknown = [n for n in names or () if n not in fields]
    if unknown:
        raise TypeError(f"{annotation.__name__} has no option {', '.join(unknown)} (it has {', '.join(fields)})")
    return GroupUse(annotation, tuple(n for n in fields if names is None or n in names))


def with_option_groups(command: Callable[..., R]) -> Callable[..., R]:
    """`command` with each option-group parameter spread into the group's options (see the module docstring)."""
    signature = inspect.signature(command, eval_str=True)
    parameters: list[inspect.Parameter] = []
    uses: dict[str, GroupUse] = {}
    for parameter in signature.parameters.values():
        use = group_use(parameter.annotation)
        if use is None:
            parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        uses[parameter.name] = use
        parameters += [group_parameters(use.group)[name] for name in use.names]
    seen: set[str] = set()
    for parameter in parameters:
        if parameter.name in seen:
            raise TypeError(f"{command.__name__}: option {parameter.name!r} is declared twice (a group has it too)")
        seen.add(parameter.name)

    @functools.wraps(command)
    def run(**values: Any) -> R:
        groups = {name: {field: values.pop(field) for field in use.names} for name, use in uses.items()}
        for name, use in uses.items():
            values[name] = use.group(**groups[name])
        return command(**values)

    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    run.option_groups = uses  # type: ignore[attr-defined]
    return run
