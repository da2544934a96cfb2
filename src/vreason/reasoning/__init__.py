"""The reasoning layer above the engine, on the public `VReason` API only (so remote backends work unchanged).

chains (multi-step, chain of thought, self-consistency; traces), locate/grounding/draw/nms (boxes and points in
original pixels), tiling/tile_runner (high-resolution images tile by tile), context_budget/token_count (long
conversations within the context), structured (validated JSON answers). The CLI, the server and the UI call these.
"""
