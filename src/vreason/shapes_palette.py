"""The built-in model's ten colour names and their RGB values: the shapes world draws in them (train/shapes_world.py)
and the synthetic 3D scenes paint their objects with them (spatial/scenes.py), so that a bird's-eye view looks like
the flat scenes the model learnt. Its own module so that spatial/ need not import train/."""

from __future__ import annotations

PALETTE: dict[str, tuple[int, int, int]] = {
    # easy-VQA's eight colours, measured from its images
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "teal": (0, 128, 128),
    "brown": (165, 42, 42),
    "yellow": (255, 255, 0),
    # and two more
    "purple": (128, 0, 128),
    "orange": (255, 165, 0),
}
