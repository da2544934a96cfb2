"""The app factory: `build_app(vr)` lays out one tab per job over a ready `VReason` or `AsyncVReason`; `launch`
serves it.

The tabs are written against `AsyncVReason` (a `VReason` lends its `.aio`): their handlers are coroutines and
async generators that Gradio runs on its own event loop, awaiting the engine with no thread in between.
Every tab's model calls share one concurrency group, so at most MODEL_CONCURRENCY requests reach the engine
at once (it batches them); later ones wait in Gradio's queue, and past QUEUE_SIZE the page says it is busy.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local tool

import gradio as gr  # noqa: E402 (the environment variable above must be set first)

from vreason.api import VReason  # noqa: E402
from vreason.ui.chat_tab import ChatTab  # noqa: E402
from vreason.ui.grounding_tab import GroundingTab  # noqa: E402
from vreason.ui.reasoning_tab import ReasoningTab  # noqa: E402
from vreason.ui.tasks_tab import TasksTab  # noqa: E402

if TYPE_CHECKING:
    from vreason.async_api import AsyncVReason
    from vreason.models.loader import LoadedModel

MODEL_CONCURRENCY = 8
QUEUE_SIZE = 64
CLOSE_TOASTS_JS = "() => document.querySelectorAll('[data-testid=toast-close]').forEach(b => b.click())"
CSS = """
#chat-status, #ground-status, #reason-status, #task-status { min-height: 1.5em; }
#reason-trace-steps pre { white-space: pre-wrap; font-size: 0.85em; }
footer { display: none !important; }
"""


def build_app(vr: VReason | AsyncVReason, *, title: str = "vreason") -> gr.Blocks:
    """The page over `vr`: a `VReason` (the tabs use its `.aio`) or an `AsyncVReason`."""
    if isinstance(vr, VReason):
        loaded, vr = vr.loaded, vr.aio
    else:
        loaded = getattr(vr.engine, "loaded", None)  # an in-process engine's checkpoint; remote ones have none
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(_header(vr.model_name, loaded), elem_id="header")
        with gr.Tabs() as tabs:
            with gr.Tab("Chat", id="chat"):
                ChatTab(vr).build()
            with gr.Tab("Grounding", id="grounding"):
                GroundingTab(vr).build()
            with gr.Tab("Reasoning", id="reasoning"):
                ReasoningTab(vr).build()
            with gr.Tab("Task packs", id="tasks"):
                TasksTab(vr).build()
        # The browser's upload toasts (a file over the size limit) are about the tab they came from; they
        # close when the user moves to another one instead of staying over it for their 10 s.
        tabs.change(None, js=CLOSE_TOASTS_JS, queue=False)
    app.queue(default_concurrency_limit=MODEL_CONCURRENCY, max_size=QUEUE_SIZE)
    return app


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, *, max_file_bytes: int = 20 * 1024 * 1024,
           block: bool = True, quiet: bool = False) -> None:
    """Serve `app` on host:port; with block=False return once it is up (tests, notebooks)."""
    app.launch(
        server_name=host, server_port=port, max_file_size=max_file_bytes, prevent_thread_lock=not block,
        quiet=quiet, show_error=True, theme=gr.themes.Soft(), css=CSS, footer_links=[], ssr_mode=False,
    )


def _header(model_name: str, loaded: LoadedModel | None) -> str:
    line = f"## vreason · `{model_name}`"
    if loaded is not None and loaded.is_demo:  # an in-process engine on the built-in checkpoint
        line += ("\n\nThis is the built-in **demo model**: tiny, trained on flat shapes in colours. It answers "
                 "questions about colours well and about shapes, positions and boxes poorly. Start the UI with "
                 "`--model Qwen/Qwen3-VL-8B-Instruct` (or a local checkpoint) for real images.")
    return line
