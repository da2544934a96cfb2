"""The reasoning layer above the engine: grounding (boxes and points), and later chains, tiling and memory."""
