"""The end of one generation, shared by every engine that runs a model here (local, OpenVINO).

`end_answer` turns the last `Finish` a request received into what its caller sees: a deadline or an engine error
raised (`RequestTimeoutError`, the error itself), the text a stream's assembler held back (a possible stop string
that never came), and the `Answer` with its usage and timings. One place, so both engines report the same
finish reason, token counts and time split for the same generation. No torch here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vreason.engine.interface import GenerationRequest
from vreason.engine.request import Finish, FinishReason
from vreason.engine.text_output import Decode, StreamAssembler, final_text
from vreason.engine.types import Answer, StreamDelta, Timings, Usage
from vreason.errors import RequestTimeoutError

if TYPE_CHECKING:  # inputs.py holds tensors; this module stays free of torch
    from vreason.engine.inputs import PreparedInputs


def end_answer(
    request: GenerationRequest,
    finish: Finish,
    assembler: StreamAssembler | None,
    token_ids: list[int],
    decode: Decode,
    thinking_prompt: bool,
    inputs: PreparedInputs,
    started: float,
    prepared_at: float,
    model: str,
) -> tuple[Sequence[StreamDelta], Answer]:
    """(deltas still to stream, the Answer); raises when the request ran past its deadline or failed."""
    if finish.reason is FinishReason.TIMEOUT:
        raise RequestTimeoutError(
            f"request {request.request_id} ran past its {request.timeout_s} s deadline and was stopped"
        )
    if finish.reason is FinishReason.ERROR:
        assert finish.error is not None
        raise finish.error
    deltas: Sequence[StreamDelta] = ()
    if assembler is not None:
        held_back = assembler.finish()
        deltas = held_back if request.stream else ()
        thinking, text = assembler.result()
    else:
        thinking, text = final_text(token_ids, decode, thinking_prompt)
    first = finish.first_token_at or finish.finished_at
    answer = Answer(
        text=text,
        thinking=thinking,
        # a stop string found on the last allowed token still ends the answer with "stop"
        finish_reason="stop" if assembler is not None and assembler.stopped else finish.reason.value,  # type: ignore[arg-type]
        usage=Usage(
            len(inputs.token_ids),
            len(token_ids),
            inputs.image_tokens,
            cached_tokens=finish.num_cached_tokens,
            video_tokens=inputs.video_tokens,
            cached_images=finish.num_cached_images,
        ),
        timings=Timings(
            preprocess_s=prepared_at - started,
            ttft_s=first - prepared_at,
            decode_s=finish.finished_at - first,
            total_s=time.perf_counter() - started,
        ),
        token_ids=token_ids,
        model=model,
    )
    return deltas, answer
