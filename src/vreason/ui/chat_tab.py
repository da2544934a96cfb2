"""The Chat tab: images, video clips and questions in, streamed answers out, turn after turn, kept on disk per user.

Each browser session holds a `ChatState` (gr.State): the open `Conversation` (its turns are the one record:
the chatbot's messages and the model's history are both drawn from them) and the session's stop flag. A turn
joins the conversation only when its answer finished or was stopped, and is then saved to the user's
`ConversationStore` folder; an error leaves the conversation as it was and puts the question back in the input
box. An upload that is not an image is refused before anything is sent.

An upload is a clip when the media layer finds a video in its content (mp4, webm, mkv, mov, an animated GIF...),
whatever its name: it is sampled once (`prepare_video`), kept in the store by content hash, and shown as a
contact sheet of the sampled frames with their `<t s>` times (contact_sheet.py) next to the question. The turn
keeps the clip, so every follow-up question carries the same decoded frames and the engine reuses the prefix
it already computed for them; a reopened conversation reads the clip back from the store.

Running a turn is one async generator over `AsyncVReason.stream_chat`, shared by a new question, regenerate
(the chatbot's retry button: the last turn asked again) and edit: clicking one of your questions puts it back
in the input box (its images stay with it); sending it asks that turn again and drops the later ones. (Gradio's
in-place message editing breaks on a message grouped with an image, hence the input box.)
Stop sets the session's flag; the generator sees it at the next streamed piece
and leaves its `aclosing` block, which aborts the engine request; what had arrived stays as the answer, marked
stopped. When the page goes away mid-answer Gradio closes the generator, which aborts the request the same way.
Opening another conversation (or a new one) mid-answer stops it so too (`ChatState.leave`): the stopped turn is
saved and the page keeps showing what was opened; deleting it mid-answer stops it and saves nothing. A session
runs one turn at a time (`_exclusive`): a retry while an answer streams is refused in the status line.
The conversation list, rename, delete and export are chat_sidebar.py.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from vreason.engine.types import Answer, ImagePart, Message, Part, StreamDelta, TextPart, VideoPart
from vreason.errors import MediaError, VReasonError
from vreason.media.image_input import PreparedImage
from vreason.media.video_input import looks_like_video
from vreason.media.video_types import VideoError
from vreason.ui.chat_sidebar import ChatSidebar, user_of
from vreason.ui.chat_state import ChatState
from vreason.ui.chat_view import answer_messages, display, question_messages, shown_turns, turn_of
from vreason.ui.contact_sheet import caption, contact_sheet
from vreason.ui.controls import SamplingControls, to_sampling
from vreason.ui.conversation_store import Clip, Conversation, ConversationStore, Turn, title_for
from vreason.ui.feedback import UnreadableUpload, answer_summary, error_message
from vreason.ui.when_tab import chat_tip

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.media.video_types import PreparedVideo

# Dropping images without a question is a common first move; describing them is the useful answer.
DEFAULT_QUESTION = "Describe the image."
DEFAULT_VIDEO_QUESTION = "Describe the video."
# Said after the media layer's "not an image" for a file that is no clip either.
NOT_A_VIDEO = "; nor a video (MP4, WebM, MKV, MOV, animated GIF)"
GENERATING = "⏳ Generating…"
BUSY = "⚠️ An answer is still coming: wait for it or press Stop first."
EDITING = "✎ Editing question {n}: send it to ask again from there (later turns are dropped)."


class ChatTab:
    def __init__(self, models: AsyncVReason | dict[str, AsyncVReason], store: ConversationStore):
        self.models = models if isinstance(models, dict) else {models.model_name: models}
        self.store = store
        self.sidebar = ChatSidebar(store, self.new_state)

    @property
    def vr(self) -> AsyncVReason:
        return next(iter(self.models.values()))

    def build(self, app: gr.Blocks) -> None:
        """Lay out the tab inside an open gr.Blocks/gr.Tab context and wire its events."""
        state = gr.State(None)  # a ChatState
        with gr.Row():
            with gr.Column(scale=1, min_width=220):
                side = self.sidebar.build()
            with gr.Column(scale=4):
                chatbot = gr.Chatbot(
                    label="Conversation", elem_id="chat-history", height=480, buttons=["copy", "copy_all"],
                    feedback_options=None, sanitize_html=True,
                    placeholder="Upload or paste images or a video clip, then ask about them. Click a question "
                    "of yours to edit it.",
                )
                # No file_types: the browser's own check only toasts and drops the file, and the question then
                # went out without it. Every upload reaches `submit`, where the media layer (the one owner of
                # what counts as an image) refuses it in the status line and nothing is sent.
                box = gr.MultimodalTextbox(
                    placeholder="Ask about the image(s) or video… (drop, paste or upload files; Enter sends)",
                    file_count="multiple", show_label=False, elem_id="chat-input",
                )
                with gr.Row():
                    status = gr.Markdown(elem_id="chat-status")
                    cancel = gr.Button("Cancel edit", elem_id="chat-edit-cancel", size="sm", scale=0, min_width=110,
                                       visible=False)
                    stop = gr.Button("■ Stop", elem_id="chat-stop", variant="stop", size="sm", scale=0,
                                     min_width=90)
            with gr.Column(scale=1, min_width=240):
                model = gr.Dropdown(list(self.models), value=next(iter(self.models)), label="Model",
                                    elem_id="chat-model", visible=len(self.models) > 1, interactive=True)
                with gr.Accordion("Sampling", open=False):
                    system = gr.Textbox(label="System prompt", lines=2, placeholder="optional")
                    controls = SamplingControls.build(self.vr.default_sampling, prefix="chat")

        outputs = [chatbot, box, status, state, *side.outputs]
        run_inputs = [state, system, model, *controls.inputs]
        box.submit(self.submit, inputs=[box, *run_inputs], outputs=outputs, concurrency_id="model")
        chatbot.retry(self.regenerate, inputs=run_inputs, outputs=outputs, concurrency_id="model")
        chatbot.select(self.edit, inputs=[state], outputs=[box, status, cancel], queue=False)
        cancel.click(self.cancel_edit, inputs=[state], outputs=[box, status, cancel], queue=False)
        stop.click(self.stop, inputs=[state], queue=False)
        self.sidebar.wire(app, side, state, chatbot, box, status)
        # the session's state from the start, not from a first question's first reply: the sidebar stops an answer
        # through it (ChatState.leave), also one still preparing its media
        app.load(lambda: self.new_state(), outputs=[state], queue=False)
        side.listing.input(self.model_of, inputs=[side.listing], outputs=[model], queue=False)
        for event in (box.submit, side.new.click, side.listing.input, side.delete.click):
            event(lambda: gr.update(visible=False), outputs=[cancel], queue=False)

    @staticmethod
    def new_state(conversation: Conversation | None = None) -> ChatState:
        return ChatState(conversation or Conversation())

    @staticmethod
    def stop(state: ChatState | None) -> None:
        if state is not None:
            state.stop_requested = True

    async def submit(self, request: gr.Request, box: dict | None, state: ChatState | None, system: str, model: str,
                     *sampling_values: Any) -> AsyncIterator[tuple]:
        """A new question; yields (chatbot, input box, status, state, *sidebar outputs)."""
        state = state or self.new_state()
        async with aclosing(self._exclusive(state, self._ask(request, box, state, system, model,
                                                             sampling_values))) as outs:
            async for out in outs:
                yield out

    async def _ask(self, request: gr.Request, box: dict | None, state: ChatState, system: str, model: str,
                   sampling_values: tuple) -> AsyncIterator[tuple]:
        box = box or {}
        text = (box.get("text") or "").strip()
        files = [str(f) for f in box.get("files") or []]
        shown = self._display(state)
        if not text and not files:
            yield self._out(shown, gr.skip(), "⚠️ Type a question or add an image or a video first.", state)
            return
        try:
            names, clips = await self._keep_uploads(state, files)  # checked before anything is kept
        except VReasonError as err:
            yield self._out(shown, gr.skip(), error_message(err), state)
            return
        keep = len(state.conversation.turns)
        editing, state.editing = state.editing, None
        if editing is not None and editing < keep:  # an edited question: its images and clips stay, later turns go
            old = state.conversation.turns[editing]
            keep, names, clips = editing, [*old.images, *names], [*old.videos, *clips]
        turn = Turn(question=text or (DEFAULT_VIDEO_QUESTION if clips and not names else DEFAULT_QUESTION),
                    images=names, videos=clips)
        async with aclosing(self._run(request, state, keep, turn, box, system, model, sampling_values)) as outs:
            async for out in outs:
                yield out

    async def regenerate(self, request: gr.Request, retry: gr.RetryData, state: ChatState | None, system: str,
                         model: str, *sampling_values: Any) -> AsyncIterator[tuple]:
        """The chatbot's retry button: the turn of the message asked again, later turns dropped."""
        state = state or self.new_state()
        async with aclosing(self._exclusive(state, self._rerun(request, state, retry.index, system, model,
                                                               sampling_values))) as outs:
            async for out in outs:
                yield out

    async def _exclusive(self, state: ChatState, turn: AsyncIterator[tuple]) -> AsyncIterator[tuple]:
        """`turn`'s outputs as the state's one running turn (ChatState.leave waits on its `idle`); none once the
        page left the state: the turn is still run out, so a stopped answer is kept."""
        async with aclosing(turn) as outs:
            if state.left:  # dropped by the page already (opened another conversation while this was sent)
                return
            if not state.idle.is_set():  # a retry while an answer streams, say: one answer at a time
                yield (gr.skip(), gr.skip(), BUSY, gr.skip(), *self.sidebar.unchanged())
                return
            state.idle.clear()
            state.stop_requested = False
            try:
                async for out in outs:
                    if not state.left:
                        yield out
            finally:
                state.idle.set()

    def edit(self, picked: gr.SelectData, state: ChatState | None) -> tuple:
        """A click on a message: one of the user's questions goes back into the input box to be edited and sent;
        yields (input box, status, cancel button)."""
        turns = state.conversation.turns if state is not None else []
        if not turns or not isinstance(picked.index, int):
            return gr.skip(), gr.skip(), gr.skip()
        shown = shown_turns(turns, self._image_url)
        if not 0 <= picked.index < len(shown) or shown[picked.index].message["role"] != "user":
            return gr.skip(), gr.skip(), gr.skip()
        at = shown[picked.index].turn
        state.editing = at
        return ({"text": turns[at].question, "files": []}, EDITING.format(n=at + 1),
                gr.update(visible=True))

    def model_of(self, request: gr.Request, conversation_id: str | None) -> Any:
        """A reopened conversation goes on with the model it was held with, when this page offers it."""
        try:
            model = self.store.for_user(user_of(request)).get(conversation_id or "").model
        except VReasonError:
            return gr.skip()
        return model if model in self.models else gr.skip()

    @staticmethod
    def cancel_edit(state: ChatState | None) -> tuple:
        if state is not None:
            state.editing = None
        return {"text": "", "files": []}, "", gr.update(visible=False)

    async def _rerun(self, request: gr.Request, state: ChatState, index: int | tuple, system: str, model: str,
                     sampling_values: tuple) -> AsyncIterator[tuple]:
        turns = state.conversation.turns
        if not turns:
            yield self._out([], gr.skip(), "", state)
            return
        at = turn_of(turns, self._image_url, index[0] if isinstance(index, tuple | list) else int(index))
        turn = Turn(question=turns[at].question, images=list(turns[at].images), videos=list(turns[at].videos))
        async with aclosing(self._run(request, state, at, turn, None, system, model, sampling_values)) as outs:
            async for out in outs:
                yield out

    async def _run(self, request: gr.Request, state: ChatState, keep: int, turn: Turn, box: dict | None,
                   system: str, model: str, sampling_values: tuple) -> AsyncIterator[tuple]:
        """Ask `turn` after the conversation's first `keep` turns; on success they and it are the conversation.
        `box`: the input box's content for a new question (cleared while it runs, given back on an error)."""
        box_on_error = box if box is not None else gr.skip()
        kept = state.conversation.turns[:keep]
        before = self._display(state)
        vr = self.models.get(model) or self.vr
        try:
            sampling = to_sampling(*sampling_values)
            history = [Message.system(system.strip())] if system and system.strip() else []
            # The system prompt is read each turn, so editing it applies to the rest of the conversation.
            for past in kept:
                history += [await self._user_message(state, vr, past), Message.assistant(past.answer)]
            user = await self._user_message(state, vr, turn)
        except VReasonError as err:
            yield self._out(before, box_on_error, error_message(err), state)
            return
        shown = display(kept, self._image_url) + question_messages(turn, self._image_url)
        yield self._out(shown, None if box is not None else gr.skip(), GENERATING, state)
        async with aclosing(self._answer(request, state, kept, turn, vr, [*history, user], sampling, system,
                                         shown, before, box_on_error)) as outs:
            async for out in outs:
                yield out

    async def _answer(self, request: gr.Request, state: ChatState, kept: list[Turn], turn: Turn, vr: AsyncVReason,
                      messages: list[Message], sampling: dict, system: str, shown: list, before: list,
                      box_on_error: Any) -> AsyncIterator[tuple]:
        """Stream `turn`'s answer onto the page, then keep it: the conversation is `kept` and `turn`, saved."""
        conversation = state.conversation
        started = time.monotonic()
        thinking_s: float | None = None
        answer: Answer | None = None
        try:
            # aclosing: leaving the loop (stop, or the page closing this generator) aborts the request at once
            async with aclosing(vr.stream_chat(messages, **sampling)) as events:
                async for event in events:
                    if state.stop_requested:  # Stop, or the page left this conversation
                        turn.stopped = True
                        break
                    if isinstance(event, StreamDelta):
                        if event.channel == "thinking":
                            turn.thinking += event.text
                        else:
                            if turn.thinking and thinking_s is None:
                                thinking_s = time.monotonic() - started
                            turn.answer += event.text
                        # no state: the first yield put it on the page, and a piece landing just after the page
                        # opened another conversation must not put this one's back
                        yield self._out(shown + answer_messages(turn, done=False), gr.skip(), gr.skip(), gr.skip())
                    else:
                        answer = event
        except Exception as err:  # VReasonError, or a bug: either way the page says so and keeps working
            if state.left != "keep":
                yield self._out(before, box_on_error, error_message(err), state)
                return
            turn.stopped = True  # the page left it mid-answer: what came is kept, as Stop keeps it
        if state.left == "drop":  # deleted while it ran: saving would bring it back
            return
        if answer is not None:
            turn.answer, turn.thinking = answer.text, answer.thinking or turn.thinking
            turn.stats = answer_summary(answer)
            status = chat_tip(turn.question, len(turn.videos))  # the stats line is under the answer
        else:
            turn.stats = f"{time.monotonic() - started:.2f} s"
            status = "■ Stopped; the answer so far is kept."
        conversation.turns = [*kept, turn]
        state.delete_armed = None  # the Delete button shows "Delete" again (sidebar.refreshed)
        conversation.model = vr.model_name
        conversation.system = system or ""
        conversation.title = conversation.title or title_for(turn.question)
        self.sidebar.save(request, conversation)
        shown_done = display(conversation.turns, self._image_url)
        if thinking_s is not None and shown_done[-2].get("metadata"):
            shown_done[-2]["metadata"]["duration"] = round(thinking_s, 2)
        yield (shown_done, gr.skip(), status, state, *self.sidebar.refreshed(request, conversation))

    async def _keep_uploads(self, state: ChatState, files: list[str]) -> tuple[list[str], list[Clip]]:
        """Each upload checked by its content and kept in the store: (image names, clips). Raises the media
        layer's error for the first one that is neither an image nor a video; nothing is kept then."""
        checked: list[tuple[str, PreparedImage | PreparedVideo]] = []
        for path in files:
            as_video: VideoError | None = None
            if await asyncio.to_thread(looks_like_video, path):
                try:
                    checked.append((path, await self.vr.prepare_video(Path(path))))
                    continue
                except VideoError as err:  # FFmpeg also "finds a video" in a still image, or a text file named .png
                    as_video = err
            try:
                checked.append((path, await self.vr.prepare_image(Path(path))))
            except MediaError as err:
                nor = f"; nor a video ({as_video.problem})" if as_video is not None else NOT_A_VIDEO
                raise UnreadableUpload(err.source, err.problem + nor) from None
        names: list[str] = []
        clips: list[Clip] = []
        for path, media in checked:
            if isinstance(media, PreparedImage):
                name = self.store.add_image(path)
                names.append(name)
            else:
                name = self.store.add_video(path)
                clips.append(Clip(name, self.store.add_image_bytes(_png(contact_sheet(media))),
                                  caption(media, Path(path).name)))
            state.prepared[name] = media  # decoded once: the turn and its follow-ups reuse it
        return names, clips

    async def _user_message(self, state: ChatState, vr: AsyncVReason, turn: Turn) -> Message:
        """Qwen's order: the clips, then the images, then the question."""
        parts: list[Part] = []
        for clip in turn.videos:
            if clip.name not in state.prepared:  # a reopened conversation: the clip is read back from the store
                state.prepared[clip.name] = await vr.prepare_video(self.store.video_path(clip.name))
            parts.append(VideoPart(state.prepared[clip.name]))
        for name in turn.images:
            if name not in state.prepared:
                state.prepared[name] = await vr.prepare_image(self.store.image_path(name))
            parts.append(ImagePart(state.prepared[name]))
        if turn.question:
            parts.append(TextPart(turn.question))
        return Message("user", parts)

    def _image_url(self, name: str) -> str:
        return str(self.store.image_path(name))

    def _display(self, state: ChatState) -> list[dict[str, Any]]:
        return display(state.conversation.turns, self._image_url)

    def _out(self, shown: list, box: Any, status: Any, state: Any) -> tuple:
        return (shown, box, status, state, *self.sidebar.unchanged())


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


__all__ = ["ChatState", "ChatTab"]
