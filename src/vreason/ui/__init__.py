"""The web UI: a Gradio app over the public `VReason` API, one module per tab.

    from vreason import VReason
    from vreason.ui import build_app, launch
    launch(build_app(VReason()), host="127.0.0.1", port=7860)

The UI knows nothing about models or engines: every tab calls `VReason` (local engine or a remote backend
behind the same interface) and the reasoning layer, and turns their errors into readable messages on the page.
Gradio is imported only here, under `vreason.ui` (the `ui` extra).
"""

from __future__ import annotations

from vreason.ui.app import build_app, launch

__all__ = ["build_app", "launch"]
