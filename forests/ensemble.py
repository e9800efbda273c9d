"""`TreeEnsemble`: a fixed-shape tensor form of random forests and gradient boosted trees.

Numpy only (importable without TensorFlow), so the same form is used by extraction
(`forests.extraction`), federated aggregation (`tff_train.physio.federated_forest`) and the
builtin-op TFLite converter (`converters.forest_to_tflite`).

Layout (T trees, every tree padded to M nodes; node 0 is the root):
- `feature int32[T,M]`: split feature of an internal node, -1 for leaves and padding.
- `threshold float32[T,M]`: an internal node sends row `x` RIGHT iff `x[feature] >= threshold`
  (compared in float32), LEFT otherwise; a NaN goes where `missing_go_right` says.
- `left`, `right int32[T,M]`: child indices within the tree; -1 for leaves and padding.
- `missing_go_right bool[T,M]`: where a NaN feature value goes (False for leaves).
- `leaf_value float32[T,M,V]`: V = num_classes class distribution ('rf'), V = 1 raw score ('gbt').
- `bias float32[K]` and `output_class int32[T]` ('gbt'): tree t adds its leaf value to logit
  `output_class[t]`; K = 1 (binary, sigmoid) or num_classes (softmax). For 'rf' `bias` is
  float32[0] and `output_class` is all zeros.

Semantics: 'rf' probabilities = mean over trees of the reached leaf's distribution;
'gbt' probabilities = sigmoid/softmax(bias + sum of the reached leaves' values per logit).
Every node not reachable from the root must be a leaf (padding), and the reachable part of each
tree must be a binary tree (no shared children, no cycles).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

SCHEMA_VERSION = 1
FORMAT_NAME = "fedmultiemo.tree_ensemble"
KINDS = ("rf", "gbt")
# Arrays that describe trees, in wire order (the leading axis indexes trees).
TREE_FIELDS = ("feature", "threshold", "left", "right", "missing_go_right", "leaf_value")
_DTYPES = {
    "feature": np.int32,
    "threshold": np.float32,
    "left": np.int32,
    "right": np.int32,
    "missing_go_right": np.bool_,
    "leaf_value": np.float32,
    "bias": np.float32,
    "output_class": np.int32,
}


def max_nodes_for_depth(max_depth: int) -> int:
    """Node count of a full binary tree with `max_depth` splits on every root-to-leaf path."""
    if max_depth < 0:
        raise ValueError(f"max_depth must be >= 0; got {max_depth}")
    return 2 ** (max_depth + 1) - 1


def _as_array(name: str, value: object, dtype: type) -> np.ndarray:
    """Converts `value` to `dtype` without silently changing its values."""
    arr = np.asarray(value)
    if dtype is np.bool_:
        if arr.dtype != np.bool_:
            raise ValueError(f"{name} must be bool; got dtype {arr.dtype}")
        return arr
    if np.issubdtype(dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be an integer array; got dtype {arr.dtype}")
        if arr.size and (arr.min() < np.iinfo(dtype).min or arr.max() > np.iinfo(dtype).max):
            raise ValueError(f"{name} values do not fit in {np.dtype(dtype).name}")
        return arr.astype(dtype, copy=False)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a float array; got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


@dataclasses.dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """A validated tree ensemble; see the module docstring for the array layout."""

    kind: str
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_go_right: np.ndarray
    leaf_value: np.ndarray
    num_classes: int
    feature_names: tuple[str, ...]
    bias: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.float32))
    output_class: np.ndarray | None = None
    # Derived in __post_init__ (not constructor arguments).
    tree_depths: np.ndarray = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {self.kind!r}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int | np.integer):
            raise ValueError(f"num_classes must be an int; got {self.num_classes!r}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2; got {self.num_classes}")
        names = tuple(self.feature_names)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"feature_names must be non-empty strings; got {names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"feature_names must be unique; got {names!r}")
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "num_classes", int(self.num_classes))
        if self.output_class is None:
            object.__setattr__(self, "output_class", np.zeros(len(self.feature), np.int32))
        for name, dtype in _DTYPES.items():
            object.__setattr__(self, name, _as_array(name, getattr(self, name), dtype))
        self._validate_shapes()
        self._validate_values()
        object.__setattr__(self, "tree_depths", self._validate_structure())

    # ----------------------------------------------------------------- validation
    def _validate_shapes(self) -> None:
        if self.feature.ndim != 2 or 0 in self.feature.shape:
            raise ValueError(
                f"feature must have shape [T,M] with T, M >= 1; got {self.feature.shape}"
            )
        t, m = self.feature.shape
        for name in ("threshold", "left", "right", "missing_go_right"):
            if getattr(self, name).shape != (t, m):
                raise ValueError(
                    f"{name} must have shape {(t, m)} like feature; got {getattr(self, name).shape}"
                )
        v = self.leaf_dim
        if self.leaf_value.shape != (t, m, v):
            raise ValueError(
                f"leaf_value must have shape {(t, m, v)} for kind {self.kind!r} with "
                f"num_classes={self.num_classes}; got {self.leaf_value.shape}"
            )
        k = self.num_outputs
        if self.bias.shape != (k,):
            raise ValueError(
                f"bias must have shape {(k,)} for kind {self.kind!r}; got {self.bias.shape}"
            )
        if self.output_class.shape != (t,):
            raise ValueError(f"output_class must have shape {(t,)}; got {self.output_class.shape}")

    def _validate_values(self) -> None:
        f = self.num_features
        internal = self.feature >= 0
        if np.any(self.feature < -1) or np.any(self.feature >= f):
            bad = self.feature[(self.feature < -1) | (self.feature >= f)][0]
            raise ValueError(f"feature ids must be -1 (leaf) or in [0, {f}); got {bad}")
        m = self.max_nodes
        for name in ("left", "right"):
            child = getattr(self, name)
            if np.any(internal & ((child < 0) | (child >= m))):
                raise ValueError(f"{name} children of internal nodes must be in [0, {m})")
            if np.any(~internal & (child != -1)):
                raise ValueError(f"{name} must be -1 for leaves (feature == -1)")
        if np.any(~internal & self.missing_go_right):
            raise ValueError("missing_go_right must be False for leaves (feature == -1)")
        if np.any(np.isnan(self.threshold[internal])):
            raise ValueError("threshold of internal nodes must not be NaN")
        if not np.all(np.isfinite(self.leaf_value)):
            raise ValueError("leaf_value must be finite")
        if not np.all(np.isfinite(self.bias)):
            raise ValueError("bias must be finite")
        if self.kind == "rf" and np.any(self.output_class != 0):
            raise ValueError("output_class must be all zeros for kind 'rf'")
        if self.kind == "gbt" and np.any(
            (self.output_class < 0) | (self.output_class >= self.num_outputs)
        ):
            raise ValueError(f"output_class must be in [0, {self.num_outputs})")

    def _validate_structure(self) -> np.ndarray:
        """Checks each tree is a binary tree rooted at node 0; returns int32[T] split depths."""
        t, m = self.feature.shape
        internal = self.feature >= 0
        rows = np.nonzero(internal)[0]
        indegree = np.zeros((t, m), np.int64)
        np.add.at(indegree, (rows, self.left[internal]), 1)
        np.add.at(indegree, (rows, self.right[internal]), 1)
        if np.any(indegree[:, 0] > 0):
            raise ValueError("node 0 (the root) must not be a child of another node")
        if np.any(indegree > 1):
            tree, node = np.argwhere(indegree > 1)[0]
            raise ValueError(f"tree {tree}: node {node} is the child of more than one node")
        reached = np.zeros((t, m), bool)
        depths = np.zeros(t, np.int32)
        trees, nodes = np.arange(t), np.zeros(t, np.int64)
        level = 0
        while trees.size:  # in-degree <= 1 and a parentless root: this ends within m levels
            reached[trees, nodes] = True
            split = internal[trees, nodes]
            depths[trees[split]] = level + 1
            trees, nodes = (
                np.concatenate([trees[split], trees[split]]),
                np.concatenate([self.left[trees[split], nodes[split]],
                                self.right[trees[split], nodes[split]]]),
            )
            level += 1
        if np.any(internal & ~reached):
            tree, node = np.argwhere(internal & ~reached)[0]
            raise ValueError(f"tree {tree}: internal node {node} is not reachable from the root")
        return depths

    # ----------------------------------------------------------------- properties
    @property
    def num_trees(self) -> int:
        """T, the number of trees."""
        return int(self.feature.shape[0])

    @property
    def max_nodes(self) -> int:
        """M, the padded per-tree node count."""
        return int(self.feature.shape[1])

    @property
    def num_features(self) -> int:
        """F, the input width."""
        return len(self.feature_names)

    @property
    def leaf_dim(self) -> int:
        """V, the width of one leaf value: num_classes for 'rf', 1 for 'gbt'."""
        return self.num_classes if self.kind == "rf" else 1

    @property
    def num_outputs(self) -> int:
        """K, the number of raw scores: 0 for 'rf'; 1 (binary) or num_classes for 'gbt'."""
        if self.kind == "rf":
            return 0
        return 1 if self.num_classes == 2 else self.num_classes

    @property
    def max_depth(self) -> int:
        """The largest number of splits on any root-to-leaf path."""
        return int(self.tree_depths.max())

    @property
    def nbytes(self) -> int:
        """Bytes held by all arrays (what the tensor form costs to send)."""
        return int(sum(a.nbytes for a in self.to_arrays().values()))

    # ----------------------------------------------------------------- inference
    def _check_x(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"x must have shape [N, {self.num_features}] (num_features); got {x.shape}"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(f"x must be a float array; got dtype {x.dtype}")
        return x.astype(np.float32, copy=False)

    def leaf_indices(self, x: np.ndarray) -> np.ndarray:
        """Index of the leaf each row reaches in each tree. x: float32[N,F] -> int32[N,T]."""
        x = self._check_x(x)
        n, t = x.shape[0], self.num_trees
        idx = np.zeros((n, t), np.int32)
        trees = np.arange(t)[None, :]
        rows = np.arange(n)[:, None]
        for _ in range(self.max_depth):
            feat = self.feature[trees, idx]
            internal = feat >= 0
            value = x[rows, np.maximum(feat, 0)]
            at_threshold = value >= self.threshold[trees, idx]
            go_right = np.where(np.isnan(value), self.missing_go_right[trees, idx], at_threshold)
            child = np.where(go_right, self.right[trees, idx], self.left[trees, idx])
            idx = np.where(internal, child, idx)
        return idx

    def tree_values(self, x: np.ndarray) -> np.ndarray:
        """Leaf value reached in every tree. x: float32[N,F] -> float32[N,T,V]."""
        idx = self.leaf_indices(x)
        return self.leaf_value[np.arange(self.num_trees)[None, :], idx]

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """'gbt' raw scores bias + sum of leaves. x: float32[N,F] -> float32[N,K]."""
        if self.kind != "gbt":
            raise ValueError(f"decision_function needs kind 'gbt'; got {self.kind!r}")
        values = self.tree_values(x)[:, :, 0]
        logits = np.broadcast_to(self.bias, (values.shape[0], self.num_outputs)).copy()
        for t in range(self.num_trees):  # tree order, like the source engines
            logits[:, self.output_class[t]] += values[:, t]
        return logits

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities. x: float32[N,F] -> float32[N,C]."""
        if self.kind == "rf":
            return self.tree_values(x).mean(axis=1, dtype=np.float32)
        logits = self.decision_function(x)
        if self.num_outputs == 1:
            p = (1.0 / (1.0 + np.exp(-logits[:, 0]))).astype(np.float32)
            return np.stack([1.0 - p, p], axis=1).astype(np.float32)
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Most probable class. x: float32[N,F] -> int64[N]."""
        return self.predict_proba(x).argmax(axis=1)

    # ----------------------------------------------------------------- tensors
    def to_arrays(self) -> OrderedDict[str, np.ndarray]:
        """The tensors of this ensemble (no metadata), in a fixed order."""
        out = OrderedDict((name, getattr(self, name)) for name in TREE_FIELDS)
        out["bias"] = self.bias
        out["output_class"] = self.output_class
        return out

    def metadata(self) -> dict[str, object]:
        """The JSON header: schema version, kind, class count and feature names."""
        return {
            "format": FORMAT_NAME,
            "schema_version": SCHEMA_VERSION,
            "kind": self.kind,
            "num_classes": self.num_classes,
            "feature_names": list(self.feature_names),
        }

    def replace(self, **changes: object) -> TreeEnsemble:
        """A validated copy with some fields changed (e.g. `leaf_value=`)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        fields.update(changes)
        return TreeEnsemble(**fields)

    # ----------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """Writes an .npz holding the arrays and a JSON `header`."""
        header = np.array(json.dumps(self.metadata()))
        with open(path, "wb") as f:
            np.savez(f, header=header, **self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike) -> TreeEnsemble:
        """Reads a file written by `save`; raises if it is missing or of another schema."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"tree ensemble file {os.fspath(path)!r} does not exist")
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("header", *_DTYPES) if k not in data.files]
            if missing:
                raise ValueError(f"{os.fspath(path)!r} is not a tree ensemble: missing {missing}")
            header = json.loads(str(data["header"]))
            arrays = {k: data[k] for k in _DTYPES}
        if header.get("format") != FORMAT_NAME or header.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{os.fspath(path)!r}: expected format {FORMAT_NAME!r} schema_version "
                f"{SCHEMA_VERSION}; got {header.get('format')!r} {header.get('schema_version')!r}"
            )
        return cls(
            kind=header["kind"],
            num_classes=header["num_classes"],
            feature_names=tuple(header["feature_names"]),
            **arrays,
        )

    # ----------------------------------------------------------------- reshaping
    def select_trees(self, indices: Sequence[int] | np.ndarray) -> TreeEnsemble:
        """The ensemble made of trees `indices` (order kept; 'gbt' keeps its bias)."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
            raise ValueError(f"indices must be a non-empty 1-D integer sequence; got {indices!r}")
        if idx.min() < -self.num_trees or idx.max() >= self.num_trees:
            raise ValueError(f"indices must be in [0, {self.num_trees}); got {idx.tolist()}")
        changes = {name: getattr(self, name)[idx] for name in TREE_FIELDS}
        return self.replace(output_class=self.output_class[idx], **changes)

    def pad(self, num_trees: int | None = None, num_nodes: int | None = None) -> TreeEnsemble:
        """Pads to `num_nodes` nodes per tree and ('gbt' only) `num_trees` zero-valued trees.

        Both paddings leave predictions unchanged: padded nodes are unreachable leaves, padded
        trees are a single leaf of value 0. 'rf' cannot gain trees (it would change the mean).
        """
        t = self.num_trees if num_trees is None else num_trees
        m = self.max_nodes if num_nodes is None else num_nodes
        if t < self.num_trees or m < self.max_nodes:
            raise ValueError(
                f"pad can only grow the ensemble: have {self.num_trees} trees x {self.max_nodes} "
                f"nodes; got num_trees={num_trees}, num_nodes={num_nodes}"
            )
        if t > self.num_trees and self.kind != "gbt":
            raise ValueError(f"only kind 'gbt' can be padded with trees; got {self.kind!r}")
        fill = {"feature": -1, "threshold": 0.0, "left": -1, "right": -1,
                "missing_go_right": False, "leaf_value": 0.0}
        changes = {}
        for name in TREE_FIELDS:
            arr = getattr(self, name)
            width = [(0, t - self.num_trees), (0, m - self.max_nodes)] + [(0, 0)] * (arr.ndim - 2)
            changes[name] = np.pad(arr, width, constant_values=fill[name])
        output_class = np.pad(self.output_class, (0, t - self.num_trees))
        return self.replace(output_class=output_class, **changes)

    def is_null_tree(self) -> np.ndarray:
        """bool[T]: trees that are one leaf of value 0 (the 'gbt' padding; no effect)."""
        return (self.feature[:, 0] < 0) & np.all(self.leaf_value[:, 0] == 0, axis=-1)

    @staticmethod
    def concat(ensembles: Sequence[TreeEnsemble]) -> TreeEnsemble:
        """Joins ensembles of one kind, classes and features.

        'rf': the union of the trees (the mean runs over all of them).
        'gbt': the sum of the models (trees appended, biases added).
        """
        if not ensembles:
            raise ValueError("ensembles must be a non-empty sequence of TreeEnsemble")
        first = ensembles[0]
        for i, e in enumerate(ensembles):
            if not isinstance(e, TreeEnsemble):
                raise ValueError(f"ensembles[{i}] must be a TreeEnsemble; got {type(e).__name__}")
            key, want = (e.kind, e.num_classes, e.feature_names), (
                first.kind, first.num_classes, first.feature_names)
            if key != want:
                raise ValueError(
                    f"ensembles[{i}] has (kind, num_classes, feature_names) {key}; "
                    f"ensembles[0] has {want}"
                )
        m = max(e.max_nodes for e in ensembles)
        padded = [e.pad(num_nodes=m) for e in ensembles]
        changes = {name: np.concatenate([getattr(e, name) for e in padded]) for name in TREE_FIELDS}
        bias = np.sum([e.bias for e in ensembles], axis=0, dtype=np.float32)
        return first.replace(
            output_class=np.concatenate([e.output_class for e in padded]), bias=bias, **changes
        )
