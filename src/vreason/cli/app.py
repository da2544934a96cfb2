"""The `vreason` command: typer app, logging set-up and the one place errors become a line on stderr.

A `VReasonError` (bad input, missing model, ...) prints `error: <message>` and exits 2; anything else is
a bug and also exits with one line, unless --debug asks for the traceback.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from vreason import __version__
from vreason.cli import ask, chat, finetune, ground, models, reason, serve, tile, ui, vllm_launch
from vreason.cli import eval as eval_cli
from vreason.cli import task as task_cli
from vreason.cli.flag_help import App

app = App(
    name="vreason",
    help="Visual reasoning with Qwen3-VL: ask about images, chat, list models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
STATE = {"debug": False}


def _version(value: bool) -> None:
    if value:
        print(f"vreason {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks and library logs."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    STATE["debug"] = debug
    _quiet_libraries(debug)


app.command("ask")(ask.ask)
app.command("chat")(chat.chat)
app.command("models")(models.models)
app.command("finetune")(finetune.finetune)
app.command("eval")(eval_cli.eval_command)
app.add_typer(task_cli.app, name="task")
app.command("ui")(ui.ui)
app.command("serve")(serve.serve)
app.command("reason", cls=reason.StepsCommand)(reason.reason)
app.command("ground")(ground.ground)
app.command("tile")(tile.tile)
app.command("vllm-launch", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    vllm_launch.vllm_launch
)


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
    from vreason.errors import VReasonError

    try:
        app()  # standalone: usage errors print click's message and exit 2, --help exits 0
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
