"""Engine streams for one HTTP request: n choices run concurrently, merged, and (when streaming) written as
Server-Sent Events in OpenAI's `chat.completion.chunk` format, ending with `data: [DONE]`.

`ChoiceStreams` runs each choice's `engine.generate` in its own task and merges their events. Closing it
cancels the tasks, which closes the engine streams and so aborts the requests; it needs no await, so it
also works while the surrounding task is being cancelled (the client disconnected mid-stream).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from vreason.engine.interface import Engine, Event, GenerationRequest
from vreason.engine.types import Answer, StreamDelta
from vreason.server.errors import ApiError
from vreason.server.protocol import ChatCompletionChunk, ChunkChoice, DeltaMessage, UsageInfo

_CHOICE_DONE = object()


class ChoiceStreams:
    """The `n` choices of one completion, merged into one stream of (choice index, event). Deadlines are the
    engine's (`request.timeout_s`): it ends a late request with RequestTimeoutError, which arrives here."""

    def __init__(self, engine: Engine, requests: Sequence[GenerationRequest]):
        self._queue: asyncio.Queue = asyncio.Queue()
        self._open = len(requests)
        self._tasks = [asyncio.create_task(self._pump(engine, i, r)) for i, r in enumerate(requests)]

    async def _pump(self, engine: Engine, index: int, request: GenerationRequest) -> None:
        try:
            async with aclosing(engine.generate(request)) as events:
                async for event in events:
                    self._queue.put_nowait((index, event))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, traceback included
            self._queue.put_nowait((index, exc))
        self._queue.put_nowait((index, _CHOICE_DONE))

    async def next(self) -> tuple[int, Event] | None:
        """The next (choice index, event); None when every choice has finished. Re-raises a choice's error."""
        while self._open:
            index, item = await self._queue.get()
            if item is _CHOICE_DONE:
                self._open -= 1
                continue
            if isinstance(item, BaseException):
                self.close()
                raise item
            return index, item
        return None

    async def answers(self) -> list[Answer]:
        """Run every choice to its end (non-streaming)."""
        answers: dict[int, Answer] = {}
        try:
            while (item := await self.next()) is not None:
                index, event = item
                if isinstance(event, Answer):
                    answers[index] = event
        finally:
            self.close()
        return [answers[i] for i in sorted(answers)]

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()


def sse(data: dict | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {payload}\n\n"


@dataclass
class StreamContext:
    request_id: str
    model: str
    created: int
    n: int
    include_usage: bool
    to_api_error: Callable[[BaseException], ApiError]
    on_first_token: Callable[[], None]
    on_answer: Callable[[Answer], None]
    on_disconnect: Callable[[], None]
    on_error: Callable[[], None]


async def chat_chunks(streams: ChoiceStreams, first: tuple[int, Event], ctx: StreamContext) -> AsyncIterator[str]:
    """SSE lines for a request whose first event (`first`) has already arrived, so it is known to have started.

    An error after that point cannot change the 200 status any more: it goes out as one OpenAI-shaped
    error chunk, which the openai client raises as an APIError.
    """

    def chunk(index: int, delta: DeltaMessage, finish: str | None = None) -> str:
        choice = ChunkChoice(index=index, delta=delta, finish_reason=finish)
        body = ChatCompletionChunk(id=ctx.request_id, created=ctx.created, model=ctx.model, choices=[choice])
        return sse(body.model_dump(exclude_none=True))

    prompt_tokens = completion_tokens = 0
    token_seen = False
    item: tuple[int, Event] | None = first
    try:
        for index in range(ctx.n):
            yield chunk(index, DeltaMessage(role="assistant", content=""))
        while item is not None:
            index, event = item
            if isinstance(event, StreamDelta):
                if not token_seen:
                    token_seen = True
                    ctx.on_first_token()
                if event.channel == "thinking":
                    yield chunk(index, DeltaMessage(reasoning_content=event.text))
                else:
                    yield chunk(index, DeltaMessage(content=event.text))
            elif isinstance(event, Answer):
                ctx.on_answer(event)
                prompt_tokens = event.usage.prompt_tokens
                completion_tokens += event.usage.completion_tokens
                yield chunk(index, DeltaMessage(), event.finish_reason)
            item = await streams.next()
        if ctx.include_usage:
            usage = UsageInfo(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            body = ChatCompletionChunk(id=ctx.request_id, created=ctx.created, model=ctx.model, choices=[], usage=usage)
            yield sse(body.model_dump(exclude_none=True))
        yield sse("[DONE]")
    except (asyncio.CancelledError, GeneratorExit):
        ctx.on_disconnect()  # the server cancels or drops the response when the client goes away
        raise
    except Exception as exc:
        ctx.on_error()
        yield sse(ctx.to_api_error(exc).body())
        yield sse("[DONE]")
    finally:
        streams.close()
