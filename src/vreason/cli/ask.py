"""`vreason ask IMAGE... QUESTION`: one question about one or more images."""

from __future__ import annotations

from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import answer_json, print_answer, print_stats, print_stream
from vreason.errors import InvalidRequestError


@with_option_groups
def ask(
    args: Annotated[list[str], typer.Argument(help="IMAGE... QUESTION: image paths/URLs, then the question.")],
    loading: o.LoadingOptions,
    sampling: o.SamplingOptions,
    backend: o.BackendOptions,
    media: o.MediaUrlOptions,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is generated.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (answer, usage, timings).")] = False,
    stats: Annotated[bool, typer.Option("--stats", help="Print token counts and timings to stderr.")] = False,
    system: o.SystemOpt = None,
) -> None:
    """Ask a question about one or more images."""
    from vreason.engine.types import Message

    if len(args) < 2:
        raise InvalidRequestError("give at least one image and a question: vreason ask IMAGE... QUESTION")
    *images, question = args
    if not question.strip():
        raise InvalidRequestError("the question is empty")
    # Bad images and values fail fast, before a (possibly large) model is loaded.
    from vreason.media import load_image

    overrides = sampling.overrides()
    policy = media.policy()
    spec = o.engine_spec(loading, backend, media_policy=policy)
    prepared = [load_image(src, policy) for src in images]
    vr = o.open_model(spec)
    messages = ([Message.system(system)] if system else []) + [Message.user(question, prepared)]
    if as_json:
        answer = vr.chat(messages, **overrides)
        print(answer_json(answer))
    elif stream:
        answer = print_stream(vr.stream_chat(messages, **overrides))
    else:
        answer = vr.chat(messages, **overrides)
        print_answer(answer)
    if stats and answer is not None:
        print_stats(answer)
