"""The Chat tab's conversation list: new, reopen, rename, delete, export as Markdown or JSON.

Conversations belong to the user of the request (`user_of`: the logged-in name, or "local" without a login)
and live in that user's folder of the `ConversationStore`; every handler looks the user up from its own
request, so one user's page can neither list nor open another's conversations. The export buttons always hold
the open conversation's current files (rewritten after each turn and rename, removed with the conversation), in
a folder of the system's temporary directory that only this OS user can read, from where Gradio serves them to
the signed-in user.

Opening, starting or deleting a conversation while an answer streams for the open one first stops that answer
(`ChatState.leave`, from Gradio's worker thread while the answer runs on its loop) and waits until it is kept
(deleted: dropped), so the list drawn next holds it and no late piece of it lands on the page.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from vreason.errors import VReasonError
from vreason.ui.chat_state import ChatState
from vreason.ui.chat_view import display
from vreason.ui.conversation_store import (
    LOCAL_USER,
    Conversation,
    ConversationStore,
    to_json,
    to_markdown,
    user_folder,
)
from vreason.ui.feedback import error_message

EXPORT_DIR = Path(tempfile.gettempdir()) / "vreason-ui-exports"
DELETE, CONFIRM_DELETE = "Delete", "Click again to delete"


def user_of(request: gr.Request | None) -> str:
    return getattr(request, "username", None) or LOCAL_USER


@dataclass
class SidebarParts:
    listing: gr.Radio
    title: gr.Textbox
    markdown: gr.DownloadButton
    json: gr.DownloadButton
    new: gr.Button
    rename: gr.Button
    delete: gr.Button

    @property
    def outputs(self) -> list[gr.components.Component]:
        """What a finished turn updates: the list, the name, the two exports, the Delete button (disarmed)."""
        return [self.listing, self.title, self.markdown, self.json, self.delete]


class ChatSidebar:
    def __init__(self, store: ConversationStore, new_state: Callable[..., Any]):
        self.store = store
        self._new_state = new_state  # the chat tab's session state for a conversation (a new one without)

    def build(self) -> SidebarParts:
        new = gr.Button("+ New conversation", elem_id="chat-new", variant="secondary")
        listing = gr.Radio([], label="Conversations", elem_id="chat-list", interactive=True)
        with gr.Accordion("This conversation", open=False, elem_id="chat-manage"):
            title = gr.Textbox(label="Name", elem_id="chat-title", max_lines=1)
            with gr.Row():
                rename = gr.Button("Rename", elem_id="chat-rename", size="sm")
                delete = gr.Button(DELETE, elem_id="chat-delete", variant="stop", size="sm")
            with gr.Row():
                markdown = gr.DownloadButton("Markdown", elem_id="chat-export-md", size="sm", interactive=False)
                as_json = gr.DownloadButton("JSON", elem_id="chat-export-json", size="sm", interactive=False)
        return SidebarParts(listing, title, markdown, as_json, new, rename, delete)

    def wire(self, app: gr.Blocks, side: SidebarParts, state: gr.State, chatbot: gr.Chatbot,
             box: gr.MultimodalTextbox, status: gr.Markdown) -> None:
        page = [chatbot, box, status, state, *side.outputs]
        app.load(self.listed, outputs=[side.listing], queue=False)
        side.listing.input(self.open, inputs=[side.listing, state], outputs=page, queue=False)
        side.new.click(self.new, inputs=[state], outputs=page, queue=False)
        chatbot.clear(self.new, inputs=[state], outputs=page, queue=False)
        renamed = [side.listing, status, side.markdown, side.json]
        side.rename.click(self.rename, inputs=[state, side.title], outputs=renamed, queue=False)
        side.title.submit(self.rename, inputs=[state, side.title], outputs=renamed, queue=False)
        side.delete.click(self.delete, inputs=[state], outputs=page, queue=False)

    # -- handlers (the request comes first: Gradio passes it by its annotation) --

    def listed(self, request: gr.Request, selected: str | None = None) -> dict:
        conversations = self.store.for_user(user_of(request)).list()
        return gr.update(choices=[(c.title or "Untitled", c.id) for c in conversations], value=selected)

    def open(self, request: gr.Request, conversation_id: str | None, state: Any = None) -> tuple:
        if not conversation_id:
            return self.new(request, state)
        _leave(state, keep=True)  # first: the one opened may be the one whose answer is being kept
        try:
            conversation = self.store.for_user(user_of(request)).get(conversation_id)
        except VReasonError as err:
            # the page stays on its conversation, in a fresh state (`leave` dropped the old one)
            return (gr.skip(), gr.skip(), error_message(err), self._new_state(getattr(state, "conversation", None)),
                    self.listed(request), *[gr.skip()] * 4)
        shown = display(conversation.turns, lambda name: str(self.store.image_path(name)))
        return (shown, None, "", self._new_state(conversation), *self.refreshed(request, conversation))

    def new(self, request: gr.Request, state: Any = None) -> tuple:
        _leave(state, keep=True)
        return ([], None, "", self._new_state(), self.listed(request), "",
                gr.update(value=None, interactive=False), gr.update(value=None, interactive=False),
                gr.update(value=DELETE))

    def rename(self, request: gr.Request, state: Any, title: str) -> tuple:
        conversation = getattr(state, "conversation", None)
        skips = (gr.skip(), gr.skip())
        if conversation is None or not conversation.turns:
            return gr.skip(), "⚠️ Ask something first: a conversation is kept from its first answer on.", *skips
        try:
            renamed = self.store.for_user(user_of(request)).rename(conversation.id, title or "")
        except VReasonError as err:
            return gr.skip(), error_message(err), *skips
        conversation.title = renamed.title
        listing, _, markdown, as_json, _ = self.refreshed(request, conversation)
        return listing, f"Renamed to “{renamed.title}”.", markdown, as_json

    def delete(self, request: gr.Request, state: Any) -> tuple:
        """The first click arms the button for the open conversation; a second click on it deletes it."""
        conversation = getattr(state, "conversation", None)
        if conversation is None or not conversation.turns:  # nothing kept yet: a first answer coming is dropped
            _leave(state, keep=False)
            return self.new(request)
        if getattr(state, "delete_armed", None) != conversation.id:
            state.delete_armed = conversation.id
            return (*[gr.skip()] * 2, f"Delete “{conversation.title}” for good? Click the button again.",
                    *[gr.skip()] * 5, gr.update(value=CONFIRM_DELETE))
        _leave(state, keep=False)
        self.store.for_user(user_of(request)).delete(conversation.id)
        shutil.rmtree(self.export_folder(conversation.id, user_of(request)), ignore_errors=True)
        return self.new(request)

    # -- for the chat tab --

    def save(self, request: gr.Request | None, conversation: Conversation) -> None:
        self.store.for_user(user_of(request)).save(conversation)

    def refreshed(self, request: gr.Request | None, conversation: Conversation) -> tuple:
        """(list, name, Markdown file, JSON file, Delete button) once `conversation` changed."""
        markdown, as_json = self.export(conversation, user_of(request))
        return (self.listed(request, conversation.id), conversation.title,
                gr.update(value=str(markdown), interactive=True), gr.update(value=str(as_json), interactive=True),
                gr.update(value=DELETE))

    @staticmethod
    def unchanged() -> tuple:
        return (gr.skip(),) * 5

    def export(self, conversation: Conversation, user: str) -> tuple[Path, Path]:
        """The conversation's Markdown and JSON files, rewritten in place (one folder per conversation, readable
        by this OS user only)."""
        folder = self.export_folder(conversation.id, user)
        shutil.rmtree(folder, ignore_errors=True)  # the name may have changed since the last export
        folder.mkdir(parents=True, mode=0o700)
        stem = re.sub(r"[^\w-]+", "-", conversation.title).strip("-")[:60] or "conversation"
        markdown, as_json = folder / f"{stem}.md", folder / f"{stem}.json"
        markdown.write_text(to_markdown(conversation), encoding="utf-8")
        as_json.write_text(json.dumps(to_json(conversation, self.store), ensure_ascii=False, indent=1) + "\n",
                           encoding="utf-8")
        return markdown, as_json

    def export_folder(self, conversation_id: str, user: str) -> Path:
        EXPORT_DIR.mkdir(mode=0o700, exist_ok=True)
        return EXPORT_DIR / user_folder(user) / conversation_id


def _leave(state: ChatState | None, keep: bool) -> None:
    """An answer that may still be coming for the page's conversation stops, kept or not (ChatState.leave); this
    returns once it is saved, so the list drawn after it holds it."""
    if state is not None:
        state.leave(keep)
