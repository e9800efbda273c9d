"""Atomic per-round checkpoints of any nested state (TFF learning state, numpy arrays).

Layout: `<dir>/round_000012.npz` holding the flattened leaves plus `round` and a JSON `extra`.
A checkpoint is written to a temporary file and renamed, so a crash (kill -9) mid-write never
leaves a corrupt "latest" checkpoint.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import tree  # dm-tree: flattens attrs classes, namedtuples, dicts and lists deterministically

_NAME = re.compile(r"^round_(\d{6})\.npz$")


def save_checkpoint(directory: str | os.PathLike, round_num: int, state: Any,
                    extra: dict | None = None, keep: int = 2) -> Path:
    """Writes `state` after round `round_num` (1-based); keeps the newest `keep` checkpoints."""
    if round_num < 0:
        raise ValueError(f"round_num must be >= 0; got {round_num}")
    if keep < 1:
        raise ValueError(f"keep must be >= 1; got {keep}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    leaves = [np.asarray(x) for x in tree.flatten(state)]
    arrays = {f"leaf_{i:05d}": leaf for i, leaf in enumerate(leaves)}
    path = directory / f"round_{round_num:06d}.npz"
    tmp = directory / f".tmp_round_{round_num:06d}.npz"
    with open(tmp, "wb") as f:
        np.savez(f, round=np.int64(round_num), extra=json.dumps(extra or {}),
                 num_leaves=np.int64(len(leaves)), **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink()
    return path


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """Complete checkpoints in `directory`, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _NAME.match(p.name))


def load_latest_checkpoint(directory: str | os.PathLike,
                           template: Any) -> tuple[int, Any, dict] | None:
    """(round, state shaped like `template`, extra) of the newest checkpoint, or None."""
    checkpoints = list_checkpoints(directory)
    if not checkpoints:
        return None
    path = checkpoints[-1]
    with np.load(path, allow_pickle=False) as data:
        n = int(data["num_leaves"])
        leaves = [data[f"leaf_{i:05d}"] for i in range(n)]
        round_num = int(data["round"])
        extra = json.loads(str(data["extra"]))
    expected = len(tree.flatten(template))
    if n != expected:
        raise ValueError(
            f"checkpoint {path} holds {n} arrays but the current state has {expected}: the "
            "config changed since it was written; use a new --workdir or the original config")
    template_leaves = tree.flatten(template)
    for i, (leaf, ref) in enumerate(zip(leaves, template_leaves, strict=True)):
        ref = np.asarray(ref)
        if leaf.shape != ref.shape:
            raise ValueError(f"checkpoint {path} array {i} has shape {leaf.shape}; the current "
                             f"state expects {ref.shape}: the config changed since it was written")
    leaves = [leaf.astype(np.asarray(ref).dtype) if leaf.ndim else
              np.asarray(ref).dtype.type(leaf) for leaf, ref in zip(leaves, template_leaves,
                                                                   strict=True)]
    return round_num, tree.unflatten_as(template, leaves), extra
