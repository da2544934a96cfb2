"""The reasoning layer above the engine, on the public `AsyncVReason` API only (so remote backends work unchanged).

chains (multi-step, chain of thought, self-consistency; traces), locate/grounding/draw/nms (boxes and points in
original pixels), tiling/tile_runner (high-resolution images tile by tile), context_budget/token_count (long
conversations within the context), structured (validated JSON answers). Each function that asks the model is
`async def a<name>(vr: AsyncVReason, ...)`, awaited by the server and the UI; `<name>(vr: VReason, ...)` is its
one-line blocking form for a Python prompt and the CLI. Votes and tiles go to the engine as one `chat_many` batch,
never through threads of their own.
"""
