"""`vreason chat [IMAGE...]`: interactive multi-turn chat; history is kept, `/image PATH` adds an image."""

from __future__ import annotations

from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import notice, print_stats, print_stream
from vreason.errors import VReasonError

HELP = """commands:
  /image PATH   attach an image (or URL) to your next question
  /reset        forget the conversation (keeps the system prompt)
  /help         this text
  /exit         leave (Ctrl-D works too)"""


ChatSampling = Annotated[
    o.SamplingOptions, o.Fields("temperature", "top_p", "top_k", "max_new_tokens", "presence_penalty", "seed")
]


@with_option_groups
def chat(
    loading: o.LoadingOptions,
    sampling: ChatSampling,
    backend: o.BackendOptions,
    images: Annotated[list[str] | None, typer.Argument(help="Images for the first question.")] = None,
    system: o.SystemOpt = None,
    stats: Annotated[bool, typer.Option("--stats", help="Print token counts and timings after each answer.")] = False,
) -> None:
    """Chat about images, turn after turn."""
    overrides = sampling.overrides()
    vr = o.open_model(o.engine_spec(loading, backend))
    conversation = vr.conversation(system)
    pending: list = []
    for source in images or []:
        pending.append(vr.prepare_image(source))
    notice(f"chatting with {vr.model_name}; /help for commands, /exit to leave")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            command, _, argument = line.partition(" ")
            if command in ("/exit", "/quit"):
                return
            if command == "/help":
                print(HELP)
            elif command == "/reset":
                conversation.reset()
                pending.clear()
                print("(conversation cleared)")
            elif command == "/image":
                try:
                    pending.append(vr.prepare_image(argument.strip()))
                    print(f"(image attached: {argument.strip()}; it goes with your next question)")
                except VReasonError as err:  # a bad image must not end the session
                    print(f"error: {err}")
            else:
                print(f"unknown command {command}; /help lists them")
            continue
        try:
            print("assistant> ", end="", flush=True)
            answer = print_stream(conversation.stream(line, pending, **overrides))
            pending = []
            if stats and answer is not None:
                print_stats(answer)
        except VReasonError as err:
            print(f"\nerror: {err}")
