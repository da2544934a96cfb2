"""Engines that stand behind the `Engine` interface without holding the model themselves.

`RemoteEngine` (remote_openai.py) sends each request to one of several OpenAI-compatible upstreams
(`vreason serve`, vLLM, DashScope's compatible mode) and turns their answers back into vreason's own
deltas, answers and errors. The request path: `openai_wire` (request -> JSON body, chunks -> events),
`balancer` (which upstream), `health` (which upstreams may be chosen), `upstream_errors` (HTTP -> errors);
`remote_config` holds the settings.
"""

from vreason.engine.backends.remote_config import RemoteConfig
from vreason.engine.backends.remote_openai import RemoteEngine

__all__ = ["RemoteConfig", "RemoteEngine"]
