"""The app factory: `build_app(vr)` lays out one tab per job over a ready `VReason` or `AsyncVReason`; `launch`
serves it.

The tabs are written against `AsyncVReason` (a `VReason` lends its `.aio`): their handlers are coroutines and
async generators that Gradio runs on its own event loop, awaiting the engine with no thread in between.
Every tab's model calls share one concurrency group, so at most MODEL_CONCURRENCY requests reach the engine
at once (it batches them); later ones wait in Gradio's queue, and past QUEUE_SIZE the page says it is busy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local tool

import gradio as gr  # noqa: E402 (the environment variable above must be set first)

from vreason.api import VReason  # noqa: E402
from vreason.async_api import AsyncVReason  # noqa: E402
from vreason.ui.chat_tab import ChatTab  # noqa: E402
from vreason.ui.conversation_store import DEFAULT_DATA_DIR, ConversationStore  # noqa: E402
from vreason.ui.grounding_tab import GroundingTab  # noqa: E402
from vreason.ui.live_tab import LiveTab  # noqa: E402
from vreason.ui.memory_tab import MemoryTab  # noqa: E402
from vreason.ui.model_card import NO_CARD, card_text, demo_banner  # noqa: E402
from vreason.ui.reasoning_tab import ReasoningTab  # noqa: E402
from vreason.ui.spatial_tab import SpatialTab  # noqa: E402
from vreason.ui.tasks_tab import TasksTab  # noqa: E402
from vreason.ui.when_tab import WhenTab  # noqa: E402

if TYPE_CHECKING:
    from vreason.memory import MemoryStore
    from vreason.models.loader import LoadedModel

Backend = VReason | AsyncVReason
Auth = list[tuple[str, str]] | Callable[[str, str], bool]

MODEL_CONCURRENCY = 8
QUEUE_SIZE = 64
CLOSE_TOASTS_JS = "() => document.querySelectorAll('[data-testid=toast-close]').forEach(b => b.click())"
CSS = """
#chat-status { min-height: 1.5em; flex-grow: 1; }
#chat-list label { width: 100%; }
#model-card .model-card-text { max-height: 480px; overflow-y: auto; }
.vr-stats, .vr-clip { opacity: 0.65; font-size: 0.8em; }
#ground-status, #reason-status, #task-status, #space-status, #when-status { min-height: 1.5em; }
#reason-trace-steps pre { white-space: pre-wrap; font-size: 0.85em; }
footer { display: none !important; }
"""


def build_app(vr: Backend | Sequence[Backend], *, title: str = "vreason",
              data_dir: Path | str = DEFAULT_DATA_DIR, memory: MemoryStore | None = None) -> gr.Blocks:
    """The page over `vr`: a `VReason` (the tabs use its `.aio`) or an `AsyncVReason`, or several of them (the
    Chat tab then offers a model picker; the other tabs use the first). Conversations are kept under
    `data_dir`, one folder per user; with a `memory` store, a Memory tab shows each user their own memory."""
    backends = [_model(one) for one in (vr if isinstance(vr, Sequence) else [vr])]
    if not backends:
        raise ValueError("build_app needs at least one model")
    models = {face.model_name: face for face, _ in backends}
    first, loaded = backends[0]
    # delete_cache: Gradio's copies of uploads, images shown and exports go after a day (checked daily)
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(86400, 86400)) as app:
        gr.Markdown(_header(first.model_name, loaded), elem_id="header")
        cards = [(face.model_name, card_text(checkpoint)) for face, checkpoint in backends]
        # no accordion when no model has a card here (a model served elsewhere): one click to nothing helps nobody
        with gr.Accordion("Model card" if len(cards) == 1 else "Model cards", open=False, elem_id="model-card",
                          visible=any(card for _, card in cards)):
            for name, card in cards:
                if len(cards) > 1:
                    gr.Markdown(f"### `{name}`")
                gr.Markdown(card or NO_CARD, elem_classes=["model-card-text"])
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"):
                ChatTab(models, ConversationStore(data_dir)).build(app)
            with gr.Tab("Grounding", id="grounding"):
                GroundingTab(first).build()
            with gr.Tab("When", id="when"):
                WhenTab(first).build()
            with gr.Tab("Reasoning", id="reasoning"):
                ReasoningTab(first).build()
            with gr.Tab("Task packs", id="tasks"):
                TasksTab(first).build()
            with gr.Tab("3D", id="3d"):
                SpatialTab(first).build()
            if memory is not None:
                with gr.Tab("Memory", id="memory"):
                    MemoryTab(memory).build(app)
            with gr.Tab("Live", id="live") as live:
                LiveTab(first).build(app, live)
        # The browser's upload toasts (a file over the size limit) are about the tab they came from; they
        # close when the user moves to another one instead of staying over it for their 10 s.
        tabs.change(None, js=CLOSE_TOASTS_JS, queue=False)
    app.queue(default_concurrency_limit=MODEL_CONCURRENCY, max_size=QUEUE_SIZE)
    app.vreason_images = ConversationStore(data_dir).images  # launch() lets Gradio serve these (and only these)
    return app


def _model(vr: Backend) -> tuple[AsyncVReason, LoadedModel | None]:
    if isinstance(vr, VReason):
        return vr.aio, vr.loaded
    return vr, getattr(vr.engine, "loaded", None)  # an in-process engine's checkpoint; remote ones have none


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, max_file_bytes: int = 20 * 1024 * 1024,
           block: bool = True, quiet: bool = False, auth: Auth | None = None) -> None:
    """Serve `app` on host:port; with block=False return once it is up (tests, notebooks). `auth`: Gradio's login,
    a list of (user, password) pairs or a function of (user, password) -> bool; each user then has their own
    conversations."""
    images = getattr(app, "vreason_images", None)
    app.launch(
        auth=auth, auth_message="vreason: sign in to use this model." if auth else None,
        allowed_paths=[str(images)] if images is not None else None,
        server_name=host, server_port=port, max_file_size=max_file_bytes, prevent_thread_lock=not block,
        quiet=quiet, show_error=True, theme=gr.themes.Soft(), css=CSS, footer_links=[], ssr_mode=False,
    )


def _header(model_name: str, loaded: LoadedModel | None) -> str:
    line = f"## vreason · `{model_name}`"
    if loaded is not None and loaded.is_demo:  # an in-process engine on the built-in checkpoint
        line += "\n\n" + demo_banner(card_text(loaded))
    return line
