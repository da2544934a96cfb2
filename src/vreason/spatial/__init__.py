"""3D input: point clouds and RGB-D frames become views a vision-language model reads, and the model's 2D (or
Qwen3-VL's own 3D) boxes become oriented 3D boxes in the data's coordinates.

readers.py (files to `PointCloud`, with limits) and rgbd.py (image + depth + intrinsics) → camera.py and
views.py (numpy z-buffer views, each keeping its camera) → questions.py (`aask_3d`, `alocate_3d` over
`AsyncVReason`) → lift.py (2D box to 3D box) and model_boxes.py (`bbox_3d` answers) → boxes3d.py (the box,
its IoU, PLY line sets), annotate.py (views with boxes drawn). scenes.py makes synthetic scenes with exact
answers for tests and evaluation. Numpy and Pillow only, plus the readers of the `3d` extra.
"""
