"""The `vreason` command: typer app, logging set-up and the one place errors become a line on stderr.

A `VReasonError` (bad input, missing model, ...) prints `error: <message>` and exits 2; anything else is
a bug and also exits with one line, unless --debug asks for the traceback.

Each command lives in its own module, and `main()` imports only the one the command line names (`vreason ask`
never imports the server, the UI or fine-tuning): start-up time is part of every command. `app`, the whole
typer app with every command, is built on first access (`from vreason.cli.app import app`, `vreason --help`).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Collection
from typing import Any

import typer

from vreason import __version__
from vreason.cli.flag_help import App

# name: (module, attribute, command options); an attribute named "app" is a typer sub-app (a command group).
COMMANDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "ask": ("vreason.cli.ask", "ask", {}),
    "chat": ("vreason.cli.chat", "chat", {}),
    "models": ("vreason.cli.models", "models", {}),
    "quantize": ("vreason.cli.quantize", "quantize", {}),
    "finetune": ("vreason.cli.finetune", "finetune", {}),
    "eval": ("vreason.cli.eval", "eval_command", {}),
    "task": ("vreason.cli.task", "app", {}),
    "ui": ("vreason.cli.ui", "ui", {}),
    "serve": ("vreason.cli.serve", "serve", {}),
    "reason": ("vreason.cli.reason", "reason", {"cls": "StepsCommand"}),
    "ground": ("vreason.cli.ground", "ground", {}),
    "tile": ("vreason.cli.tile", "tile", {}),
    "ground3d": ("vreason.cli.spatial", "ground3d", {}),
    "ask3d": ("vreason.cli.spatial", "ask3d", {}),
    "watch": ("vreason.cli.watch", "watch", {}),
    "when": ("vreason.cli.when", "when", {}),
    "memory": ("vreason.cli.memory", "app", {}),
    "export": ("vreason.cli.export", "app", {}),
    "vllm-launch": (
        "vreason.cli.vllm_launch",
        "vllm_launch",
        {"context_settings": {"allow_extra_args": True, "ignore_unknown_options": True}},
    ),
}
STATE = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"vreason {__version__}")
        raise typer.Exit()


def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and library logs."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    STATE["debug"] = debug
    _quiet_libraries(debug)


def build_app(names: Collection[str] | None = None) -> App:
    """The `vreason` typer app with every command, or with the commands `names` alone (only their modules
    imported)."""
    app = App(
        name="vreason",
        help="Visual reasoning with Qwen3-VL: ask about images, chat, list models.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(main_options)
    for name, (module_name, attribute, options) in COMMANDS.items():
        if names is not None and name not in names:
            continue
        module = importlib.import_module(module_name)
        target = getattr(module, attribute)
        if attribute == "app":
            app.add_typer(target, name=name)
            continue
        options = dict(options)
        if "cls" in options:
            options["cls"] = getattr(module, options["cls"])
        app.command(name, **options)(target)
    return app


def commands_needed(argv: list[str]) -> list[str] | None:
    """The commands an argument list can run: the first word after the global flags when it names one, none
    for `--version` alone, and all (None) otherwise (no command: the help lists them all; a misspelt one: click
    suggests the nearest)."""
    for word in argv:
        if word == "--version":
            return []
        if word == "--" or not word.startswith("-"):
            return [word] if word in COMMANDS else None
    return None


def __getattr__(name: str) -> Any:
    if name == "app":
        globals()["app"] = built = build_app()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _quiet_libraries(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("vreason: %(message)s"))
    root = logging.getLogger("vreason")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    if not debug:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main() -> None:
    from vreason.engine.allocator import tune_malloc
    from vreason.errors import VReasonError

    tune_malloc()  # before any thread starts and the model loads: see engine/allocator.py
    try:
        # standalone: usage errors print click's message and exit 2, --help exits 0
        build_app(commands_needed(sys.argv[1:]))()
    except VReasonError as err:
        _fail(f"error: {err}", err, code=2)
    except KeyboardInterrupt:
        _fail("interrupted", None, code=130)
    except Exception as err:
        _fail(f"internal error: {type(err).__name__}: {err} (run with --debug for the traceback)", err, code=1)


def _fail(message: str, err: BaseException | None, code: int) -> None:
    if STATE["debug"] and err is not None:
        import traceback

        traceback.print_exception(err)
    print(message.splitlines()[0] if message else message, file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
