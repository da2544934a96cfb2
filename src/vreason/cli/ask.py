"""`vreason ask IMAGE... QUESTION`: one question about one or more images."""

from __future__ import annotations

from typing import Annotated

import typer

from vreason.cli import backend_options as b
from vreason.cli import options as o
from vreason.cli.render import answer_json, print_answer, print_stats, print_stream
from vreason.errors import InvalidRequestError


def ask(
    args: Annotated[list[str], typer.Argument(help="IMAGE... QUESTION: image paths/URLs, then the question.")],
    model: o.ModelOpt = None,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is generated.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (answer, usage, timings).")] = False,
    stats: Annotated[bool, typer.Option("--stats", help="Print token counts and timings to stderr.")] = False,
    system: o.SystemOpt = None,
    max_pixels: o.MaxPixelsOpt = None,
    min_pixels: o.MinPixelsOpt = None,
    temperature: o.TemperatureOpt = None,
    top_p: o.TopPOpt = None,
    top_k: o.TopKOpt = None,
    max_new_tokens: o.MaxNewTokensOpt = None,
    repetition_penalty: o.RepetitionOpt = None,
    presence_penalty: o.PresenceOpt = None,
    frequency_penalty: o.FrequencyOpt = None,
    seed: o.SeedOpt = None,
    stop: o.StopOpt = None,
    device: o.DeviceOpt = "auto",
    dtype: o.DtypeOpt = "auto",
    quantize: o.QuantizeOpt = None,
    adapter: o.AdapterOpt = None,
    backend: b.BackendOpt = "local",
    upstream: b.UpstreamOpt = None,
    upstream_api_key: b.UpstreamApiKeyOpt = None,
) -> None:
    """Ask a question about one or more images."""
    from vreason.engine.types import Message

    if len(args) < 2:
        raise InvalidRequestError("give at least one image and a question: vreason ask IMAGE... QUESTION")
    *images, question = args
    if not question.strip():
        raise InvalidRequestError("the question is empty")
    sampling = o.sampling_kwargs(
        temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens,
        repetition_penalty=repetition_penalty, presence_penalty=presence_penalty,
        frequency_penalty=frequency_penalty, seed=seed, stop=stop,
    )
    # Bad images and values fail fast, before a (possibly large) model is loaded.
    from vreason.engine.sampling import SamplingParams
    from vreason.media import MediaPolicy, PixelBudget, load_image

    SamplingParams().updated(**sampling)
    PixelBudget().updated(min_pixels, max_pixels)
    prepared = [load_image(src, MediaPolicy()) for src in images]
    vr = o.open_model(model, device, dtype, quantize, min_pixels, max_pixels, adapter, backend, upstream,
                      upstream_api_key)
    messages = ([Message.system(system)] if system else []) + [Message.user(question, prepared)]
    if as_json:
        answer = vr.chat(messages, **sampling)
        print(answer_json(answer))
    elif stream:
        answer = print_stream(vr.stream_chat(messages, **sampling))
    else:
        answer = vr.chat(messages, **sampling)
        print_answer(answer)
    if stats and answer is not None:
        print_stats(answer)
