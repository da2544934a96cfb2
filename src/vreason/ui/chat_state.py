"""A Chat tab session's state (a gr.State value): the open conversation, the session's flags, and the hand-over
between the conversation list and a running answer.

The sidebar's handlers run on Gradio's worker threads while a turn's answer streams on its event loop. When the
page leaves the conversation (opens another, starts a new one, deletes it) the sidebar calls `leave` first: the
answer stops at its next piece, is kept or dropped, and `leave` returns once that is done, so what the sidebar
draws next already holds it. `ChatTab` clears `idle` while a turn runs on the state and sets it when the turn is
over; a state the page left runs no turn again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vreason.ui.conversation_store import Conversation

if TYPE_CHECKING:
    from vreason.media.image_input import PreparedImage
    from vreason.media.video_types import PreparedVideo

LEAVE_WAIT_S = 5.0  # how long opening another conversation waits for the answer it stops to be kept


def _idle() -> threading.Event:
    idle = threading.Event()
    idle.set()
    return idle


@dataclass
class ChatState:
    conversation: Conversation = field(default_factory=Conversation)
    stop_requested: bool = False
    editing: int | None = None  # the turn the input box re-asks, after a click on its question
    delete_armed: str | None = None  # the conversation whose Delete button was clicked once
    left: str | None = None  # "keep" / "drop": the page dropped this state (leave); no turn runs on it any more
    # cleared while a turn runs, set once it is kept. (A lock inside: a ChatState cannot be deep-copied, so it is
    # never a gr.State's initial value; the page gets one from app.load.)
    idle: threading.Event = field(default_factory=_idle)
    # by image or clip name in the store: decoded once per session, so follow-ups send the very same frames
    prepared: dict[str, PreparedImage | PreparedVideo] = field(default_factory=dict)

    def leave(self, keep: bool) -> None:
        """The page opens another conversation (or a new one, or deletes this one) and drops this state: an answer
        still coming for it stops at its next piece, is saved only when `keep`, and no longer touches the page, and
        none starts on it after. Returns once it is saved (so the list drawn next shows it), at once when none
        runs, or after LEAVE_WAIT_S when no piece came (a long prefill)."""
        self.left = "keep" if keep else "drop"  # before the stop: the loop reads it once it stopped
        self.stop_requested = True
        self.idle.wait(LEAVE_WAIT_S)



__all__ = ["LEAVE_WAIT_S", "ChatState"]
