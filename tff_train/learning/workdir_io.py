"""Writing run outputs: resolved config, metrics CSV, JSON, TensorBoard scalars, plots."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Writes `payload` as indented JSON (atomically) and returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=_json_default) + "\n")
    os.replace(tmp, path)
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_rows_csv(path: str | os.PathLike, rows: Sequence[dict]) -> Path:
    """Rewrites `path` with `rows` (union of keys as header, in first-seen order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header: list[str] = []
    for row in rows:
        header.extend(k for k in row if k not in header)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    return path


def write_confusion(directory: str | os.PathLike, name: str, matrix: Sequence[Sequence[int]],
                    class_names: Sequence[str], title: str) -> tuple[Path, Path]:
    """`<name>.csv` and `<name>.png` of a confusion matrix (rows true, columns predicted)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    matrix = np.asarray(matrix)
    csv_path = directory / f"{name}.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true\\predicted", *class_names])
        for cls, row in zip(class_names, matrix, strict=True):
            writer.writerow([cls, *row.tolist()])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(class_names), 0.8 + 0.7 * len(class_names)))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = matrix.max() if matrix.size else 0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > peak / 2 else "black")
    fig.tight_layout()
    png_path = directory / f"{name}.png"
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return csv_path, png_path


def learning_curve_figure(rows: Sequence[dict], series: Sequence[str], title: str) -> Any:
    """A matplotlib Figure of per-round metric columns against `round`, in two panels.

    Columns whose name contains "loss" go to the left axes (y label "loss", unbounded); all
    others are accuracies on the right axes (y label "accuracy", 0 to 1). `rows` are dicts with
    a `round` key; missing/empty values are skipped. Raises ValueError for an empty `series`.
    """
    if isinstance(series, str) or not series:
        raise ValueError(f"series must be a non-empty list of metric columns; got {series!r}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key in series:
        points = [(r["round"], r[key]) for r in rows if r.get(key) not in (None, "")]
        if points:
            xs, ys = zip(*points, strict=True)
            ax = loss_ax if "loss" in key else acc_ax
            ax.plot(xs, ys, marker="o", markersize=3, label=key)
    acc_ax.set_ylim(0.0, 1.0)
    for ax, name in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.set_xlabel("round")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_learning_curve(path: str | os.PathLike, rows: Sequence[dict], series: Sequence[str],
                        title: str) -> Path:
    """Writes `learning_curve_figure(rows, series, title)` as a PNG at `path`."""
    import matplotlib.pyplot as plt

    fig = learning_curve_figure(rows, series, title)
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
