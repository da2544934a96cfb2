"""The web UI: a Gradio app over the async Python API, one module per tab.

    from vreason import VReason
    from vreason.ui import build_app, launch
    launch(build_app(VReason()), host="127.0.0.1", port=7860)     # or build_app(AsyncVReason(engine))
    launch(build_app([VReason(), VReason("qwen3-vl-8b")], data_dir="ui-data"), auth=[("alice", "secret")])

The UI knows nothing about models or engines: every tab's handlers are `async def` functions that await
`AsyncVReason` (local engine or a remote backend behind the same interface) and the async reasoning functions on
Gradio's own event loop, and turn their errors into readable messages on the page. Chat conversations are kept
per user under the data directory (conversation_store.py); several models give the Chat tab a model picker;
`auth` puts Gradio's login in front of the page. Gradio is imported only here,
under `vreason.ui` (the `ui` extra).
"""

from __future__ import annotations

from vreason.ui.app import build_app, launch

__all__ = ["build_app", "launch"]
