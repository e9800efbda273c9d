"""The face model's input scaling, owned once: `float32(pixel) / float32(1 / scale) + offset`.

Training's input pipeline feeds `cast(float32) / 255.0` (tff_train.face.input_pipeline, in
TensorFlow); the converters' calibration images, the bundle's preprocessing.json and the edge
FacePipeline use the constants and `scale_pixels` below, which give the same float32 values bit
for bit.
"""

from __future__ import annotations

import math

import numpy as np

PIXEL_SCALE = 1.0 / 255.0  # uint8 pixel -> [0, 1]
PIXEL_OFFSET = 0.0


def check_pixel_scaling(pixel_scale: float, pixel_offset: float) -> None:
    """Raises ValueError naming `pixel_scale` (finite, > 0) or `pixel_offset` (finite)."""
    if not (isinstance(pixel_scale, int | float) and math.isfinite(pixel_scale)
            and pixel_scale > 0):
        raise ValueError(f"pixel_scale must be a finite number > 0; got {pixel_scale!r}")
    if not (isinstance(pixel_offset, int | float) and math.isfinite(pixel_offset)):
        raise ValueError(f"pixel_offset must be a finite number; got {pixel_offset!r}")


def scale_pixels(images: np.ndarray, pixel_scale: float = PIXEL_SCALE,
                 pixel_offset: float = PIXEL_OFFSET) -> np.ndarray:
    """`images: uint8[...]` (any integer or float pixels in [0, 255]) -> `float32[...]` model
    input `float32(pixel) / float32(1 / pixel_scale) + float32(pixel_offset)`."""
    check_pixel_scaling(pixel_scale, pixel_offset)
    x = np.asarray(images)
    if x.dtype.kind not in "iuf":
        raise ValueError(f"images must be a numeric pixel array; got dtype {x.dtype}")
    return x.astype(np.float32) / np.float32(1.0 / pixel_scale) + np.float32(pixel_offset)
