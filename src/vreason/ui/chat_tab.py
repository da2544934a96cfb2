"""The Chat tab: images and questions in, streamed answers out, turn after turn.

Each browser session holds a `ChatSession` (gr.State): the model-side history (`Message`s with prepared images,
answers without their thinking, as `Conversation` keeps it) and the chatbot's display messages. The chatbot is
output only; a turn joins the history only when its answer finished, so an error leaves the conversation as it
was and puts the question back in the input box. An upload that is not an image is refused before anything
is sent: the status line names it and the input box keeps the question and the files as they were. `submit` is
an async generator over `AsyncVReason.stream_chat`; when the page goes away mid-answer, Gradio closes it and the
stream's closing aborts the request.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from vreason.engine.types import Answer, Message, StreamDelta
from vreason.errors import VReasonError
from vreason.ui.controls import SamplingControls, to_sampling
from vreason.ui.feedback import answer_summary, error_message

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason

# Dropping images without a question is a common first move; describing them is the useful answer.
DEFAULT_QUESTION = "Describe the image."
THINKING_TITLE = "Thinking"


@dataclass
class ChatSession:
    messages: list[Message] = field(default_factory=list)  # what the model sees next turn
    display: list[dict[str, Any]] = field(default_factory=list)  # what the chatbot shows


def reply_messages(thinking: str | None, text: str, *, done: bool, thinking_s: float | None = None) -> list[dict]:
    """The chatbot messages of one answer: its reasoning as a collapsible block (closed once done), then the text."""
    out: list[dict[str, Any]] = []
    if thinking:
        metadata: dict[str, Any] = {"title": THINKING_TITLE, "status": "done" if done else "pending"}
        if thinking_s is not None:
            metadata["duration"] = round(thinking_s, 2)
        out.append({"role": "assistant", "content": thinking, "metadata": metadata})
    if text or done:
        out.append({"role": "assistant", "content": text or "(empty answer)"})
    return out


class ChatTab:
    def __init__(self, vr: AsyncVReason):
        self.vr = vr

    def build(self) -> None:
        """Lay out the tab inside an open gr.Blocks/gr.Tab context and wire its events."""
        session = gr.State(None)  # a ChatSession once the first turn finished
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation", elem_id="chat-history", height=480, buttons=["copy", "copy_all"],
                    feedback_options=None, placeholder="Upload or paste one or more images, then ask about them.",
                )
                # No file_types: the browser's own check only toasts and drops the file, and the question then
                # went out without it. Every upload reaches `submit`, where the media layer (the one owner of
                # what counts as an image) refuses it in the status line and nothing is sent.
                box = gr.MultimodalTextbox(
                    placeholder="Ask about the image(s)… (drop, paste or upload images; Enter sends)",
                    file_count="multiple", show_label=False, elem_id="chat-input",
                )
                status = gr.Markdown(elem_id="chat-status")
                with gr.Row():
                    new_chat = gr.Button("New conversation", elem_id="chat-new", variant="secondary")
            with gr.Column(scale=1), gr.Accordion("Sampling", open=False):
                system = gr.Textbox(label="System prompt", lines=2, placeholder="optional")
                controls = SamplingControls.build(self.vr.default_sampling, prefix="chat")

        box.submit(
            self.submit, inputs=[box, session, system, *controls.inputs], outputs=[chatbot, box, status, session],
            concurrency_id="model",
        )
        new_chat.click(self.reset, outputs=[chatbot, box, status, session], queue=False)
        chatbot.clear(self.reset, outputs=[chatbot, box, status, session], queue=False)

    @staticmethod
    def reset() -> tuple:
        return [], None, "", None

    async def submit(self, box: dict | None, session: ChatSession | None, system: str,
                     *sampling_values: Any) -> AsyncIterator[tuple]:
        """Stream one turn; yields (chatbot messages, input box, status, session)."""
        session = session or ChatSession()
        box = box or {}
        text = (box.get("text") or "").strip()
        files = [str(f) for f in box.get("files") or []]
        if not text and not files:
            yield session.display, gr.skip(), "⚠️ Type a question or add an image first.", session
            return
        question = text or DEFAULT_QUESTION
        try:
            sampling = to_sampling(*sampling_values)
            prepared = [await self.vr.prepare_image(Path(f)) for f in files]
        except VReasonError as err:
            yield session.display, gr.skip(), error_message(err), session
            return

        user = Message.user(question, prepared)
        # The system prompt is read each turn, so editing it applies to the rest of the conversation.
        history = [Message.system(system.strip())] if system and system.strip() else []
        history += session.messages
        shown = session.display + [{"role": "user", "content": {"path": f}} for f in files]
        shown.append({"role": "user", "content": question})
        yield shown, None, "⏳ Generating…", session

        thinking, answer_text, started = "", "", time.monotonic()
        thinking_s: float | None = None
        try:
            answer: Answer | None = None
            # aclosing: the request is aborted as soon as this handler is closed, not when the stream is collected
            async with aclosing(self.vr.stream_chat([*history, user], **sampling)) as events:
                async for event in events:
                    if isinstance(event, StreamDelta):
                        if event.channel == "thinking":
                            thinking += event.text
                        else:
                            if thinking and thinking_s is None:
                                thinking_s = time.monotonic() - started
                            answer_text += event.text
                        yield (shown + reply_messages(thinking, answer_text, done=False), gr.skip(), gr.skip(),
                               session)
                    else:
                        answer = event
        except Exception as err:  # VReasonError, or a bug: either way the page says so and keeps working
            yield session.display, box, error_message(err), session
            return
        assert answer is not None, "the engine always ends a generation with an Answer"
        reply = reply_messages(answer.thinking, answer.text, done=True, thinking_s=thinking_s)
        updated = ChatSession(messages=[*session.messages, user, Message.assistant(answer.text)],
                              display=shown + reply)
        yield updated.display, gr.skip(), answer_summary(answer), updated
