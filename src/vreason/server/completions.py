"""POST /v1/chat/completions: one validated request in, `n` engine requests out, one response back.

Streaming responses start only after the first event of the engine has arrived, so everything that can
be refused (bad image or video, context overflow, full queue) is refused with a proper status code and not as
a chunk after a 200. An image or video that cannot be used is a 400 whose `param` names its content part
(`messages[i].content[j]`) and whose code says which kind it is (`invalid_image`, `invalid_video`).
A client that disconnects aborts its requests: streaming ones when the response is cancelled, non-streaming
ones through a watcher on the connection. The opt-in `memory` field recalls into the prompt and reports the
items used (server/memory_chat.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse

from vreason.engine.interface import Engine, GenerationRequest
from vreason.engine.sampling import nth_seed
from vreason.engine.types import Answer
from vreason.errors import InvalidRequestError, MediaError
from vreason.media import describe_source
from vreason.media_step import MediaResolver
from vreason.server.errors import ApiError, api_error_from, model_not_found
from vreason.server.memory_access import ServerMemory
from vreason.server.memory_chat import MemoryTurn, prepare_turn, with_memory_chunk
from vreason.server.metrics import ServerMetrics
from vreason.server.protocol import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    DeltaMessage,
    ImageContent,
    UsageInfo,
)
from vreason.server.settings import ServerSettings
from vreason.server.streaming import ChoiceStreams, StreamContext, chat_chunks, sse
from vreason.server.video_parts import VideoContent, VideoFramesContent


class ChatCompletions:
    def __init__(self, engine: Engine, settings: ServerSettings, metrics: ServerMetrics, names: tuple[str, ...],
                 memory: ServerMemory | None = None):
        self.engine = engine
        self.memory = memory or ServerMemory(engine, None)
        self.settings = settings
        self.metrics = metrics
        self.names = names
        # The media step of this route: images checked and loaded, clips sampled and decoded, under the server's
        # policy and the engine's video budget (frames at the size its checkpoint takes), before the engine.
        self.media = MediaResolver.for_engine(engine)

    async def handle(self, body: ChatCompletionRequest, http: Request, request_id: str) -> Any:
        started = time.perf_counter()
        if body.model not in self.names and not self.settings.any_model_name:
            raise model_not_found(body.model, self.names)
        memory: MemoryTurn | None = None
        try:
            requests, memory = await self.engine_requests(body, request_id, http)
        except (InvalidRequestError, MediaError) as exc:
            raise self.api_error(body, exc, request_id) from None
        headers = {"X-Request-Id": request_id}
        if memory is not None and memory.reply_without_model:
            return await self._memory_reply(body, memory, request_id, headers)
        streams = ChoiceStreams(self.engine, requests)
        if not body.stream:
            return await self._complete(body, http, streams, request_id, started, headers, memory)
        try:
            first = await streams.next()  # raises what the engine refuses, before any byte is sent
        except BaseException as exc:
            streams.close()
            raise self.api_error(body, exc, request_id) from None
        assert first is not None, "every engine stream yields at least its Answer"
        ctx = StreamContext(
            request_id=request_id,
            model=body.model,
            created=int(time.time()),
            n=body.n,
            include_usage=body.include_usage,
            to_api_error=lambda exc: self.api_error(body, exc, request_id),
            on_first_token=lambda: self.metrics.ttft.observe(time.perf_counter() - started),
            on_answer=self._count_tokens if memory is None else lambda a: self._keep_text(a, memory),
            on_disconnect=self.metrics.disconnects.inc,
            on_error=self.metrics.stream_errors.inc,
        )
        headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        chunks = chat_chunks(streams, first, ctx)
        if memory is not None:
            chunks = with_memory_chunk(chunks, memory, lambda report: self._report_chunk(body, request_id, report),
                                       lambda exc: sse(self.api_error(body, exc, request_id).body()))
        return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)

    async def engine_requests(
        self, body: ChatCompletionRequest, request_id: str, http: Request | None = None
    ) -> tuple[list[GenerationRequest], MemoryTurn | None]:
        body.check_supported()
        if body.n > self.settings.max_choices:
            raise InvalidRequestError(f"n ({body.n}) must be at most {self.settings.max_choices}", param="n")
        messages = body.to_messages()
        params = body.to_sampling_params(self.engine.default_params)  # checked before any image is fetched
        if any(m.images or m.videos for m in messages):
            messages = await asyncio.to_thread(self.media.resolve, messages)  # reads URLs, decodes: off the loop
        else:
            messages = self.media.resolve(messages)
        memory = None
        if body.memory is not None:  # recalled after the media step: the user's own images are checked first
            memory = await prepare_turn(self.memory, body.memory, http, messages)
            messages = await asyncio.to_thread(self.media.resolve, memory.messages)  # recalled pictures
        budget = self.engine.budget.updated(body.min_pixels, body.max_pixels)
        requests = []
        for index in range(body.n):
            # One seed, n different samples: each choice gets the next seed.
            choice_params = params if params.seed is None else params.updated(seed=nth_seed(params.seed, index))
            requests.append(
                GenerationRequest(
                    messages=messages,
                    params=choice_params,
                    budget=budget,
                    stream=body.stream,
                    request_id=request_id if body.n == 1 else f"{request_id}-{index}",
                    timeout_s=self.settings.request_timeout_s,
                )
            )
        return requests, memory

    async def _complete(
        self, body: ChatCompletionRequest, http: Request, streams: ChoiceStreams, request_id: str, started: float,
        headers: dict[str, str], memory: MemoryTurn | None = None,
    ) -> JSONResponse:
        work = asyncio.ensure_future(streams.answers())
        watcher = asyncio.ensure_future(_until_disconnected(http))
        try:
            await asyncio.wait([work, watcher], return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
        if not work.done():  # the client left: stop generating for nobody
            streams.close()
            work.cancel()
            self.metrics.disconnects.inc()
            return JSONResponse({}, status_code=499)
        try:
            answers = work.result()
        except BaseException as exc:
            raise self.api_error(body, exc, request_id) from None
        finished = time.perf_counter()
        for answer in answers:
            self._count_tokens(answer)
        first = answers[0]
        self.metrics.ttft.observe(max(0.0, finished - started - first.timings.decode_s))
        completion_tokens = sum(a.usage.completion_tokens for a in answers)
        texts = [a.text for a in answers]
        report = None
        if memory is not None:
            report = await memory.finish(first.text, from_facts=True)
            texts[0] = memory.text
        response = ChatCompletion(
            id=request_id,
            model=body.model,
            choices=[
                Choice(
                    index=i,
                    message=AssistantMessage(content=texts[i], reasoning_content=a.thinking),
                    finish_reason=a.finish_reason,
                )
                for i, a in enumerate(answers)
            ],
            usage=UsageInfo(
                prompt_tokens=first.usage.prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=first.usage.prompt_tokens + completion_tokens,
            ),
            vreason=report,
        )
        return JSONResponse(response.model_dump(exclude_none=True), headers=headers)

    async def _memory_reply(
        self, body: ChatCompletionRequest, memory: MemoryTurn, request_id: str, headers: dict[str, str]
    ) -> Any:
        """A remember / forget turn with `write`: memory carries it out and its confirmation is the answer."""
        report = await memory.finish("")
        text = memory.reply or ""
        if body.stream:
            return StreamingResponse(self._reply_chunks(body, request_id, text, report),
                                     media_type="text/event-stream", headers=headers)
        choices = [Choice(index=i, message=AssistantMessage(content=text), finish_reason="stop") for i in range(body.n)]
        response = ChatCompletion(id=request_id, model=body.model, choices=choices, usage=UsageInfo(), vreason=report)
        return JSONResponse(response.model_dump(exclude_none=True), headers=headers)

    async def _reply_chunks(self, body: ChatCompletionRequest, request_id: str, text: str, report: dict) -> Any:
        created = int(time.time())
        for delta, finish in ((DeltaMessage(role="assistant", content=text), None), (DeltaMessage(), "stop")):
            choices = [ChunkChoice(index=i, delta=delta, finish_reason=finish) for i in range(body.n)]
            chunk = ChatCompletionChunk(id=request_id, created=created, model=body.model, choices=choices)
            yield sse(chunk.model_dump(exclude_none=True))
        yield self._report_chunk(body, request_id, report)
        yield sse("[DONE]")

    def _report_chunk(self, body: ChatCompletionRequest, request_id: str, report: dict) -> str:
        chunk = ChatCompletionChunk(id=request_id, created=int(time.time()), model=body.model, choices=[],
                                    vreason=report)
        return sse(chunk.model_dump(exclude_none=True))

    def _keep_text(self, answer: Answer, memory: MemoryTurn) -> None:
        self._count_tokens(answer)
        if memory.answer_text is None:
            memory.answer_text = answer.text

    def _count_tokens(self, answer: Answer) -> None:
        self.metrics.prompt_tokens.inc(answer.usage.prompt_tokens)
        self.metrics.generation_tokens.inc(answer.usage.completion_tokens)

    def api_error(self, body: ChatCompletionRequest, exc: BaseException, request_id: str) -> ApiError:
        error = api_error_from(exc, request_id)
        if isinstance(exc, MediaError):
            found = _media_part(body, exc.source)
            if found is not None:
                error.param, kind = found
                error.code = f"invalid_{kind}"
        return error


def _media_part(body: ChatCompletionRequest, label: str) -> tuple[str, str] | None:
    """Which content part a media error is about, as ('messages[i].content[j]', 'image' or 'video')."""
    for i, message in enumerate(body.messages):
        if not isinstance(message.content, list):
            continue
        for j, part in enumerate(message.content):
            if isinstance(part, ImageContent) and describe_source(part.image_url.url) == label:
                return f"messages[{i}].content[{j}]", "image"
            if isinstance(part, VideoContent) and describe_source(part.video_url.url) == label:
                return f"messages[{i}].content[{j}]", "video"
            if isinstance(part, VideoFramesContent) and (
                label.startswith("<list of") or label in (describe_source(s) for s in part.sources())
            ):
                return f"messages[{i}].content[{j}]", "video"
    return None


async def _until_disconnected(http: Request) -> None:
    while (await http.receive())["type"] != "http.disconnect":
        pass
