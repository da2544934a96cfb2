"""The OpenAI-compatible HTTP server (`vreason serve`): FastAPI routes over the async engine interface.

Needs the `server` extra (fastapi, uvicorn, prometheus-client).
"""

from vreason.server.app import create_app
from vreason.server.settings import ServerSettings, server_media_policy

__all__ = ["ServerSettings", "create_app", "server_media_policy"]
