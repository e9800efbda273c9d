"""Federated random forest on TFF (federated GBT: `tff_train.physio.histogram_boosting`).

Clients grow trees on-device with TF-DF (outside TFF, like local training), turn them into the
fixed-shape `TreeEnsemble` tensors and only those tensors travel, as TFF values placed at CLIENTS.

- Federated forest (`train_federated_forest`): each client grows `num_trees_per_client` trees and
  sends them with each tree's accuracy on its local validation split and its example count. The
  server keeps the `keep_top_n` trees of highest score = accuracy * num_examples**volume_exponent
  via `tff.federated_aggregate` whose accumulator is a fixed-size top-N buffer (merging two
  buffers = top-N of their union, which is associative and commutative up to score ties).
It returns `FederatedStats` with the bytes each client sent (sum of its tensors' nbytes) and got
(shared with the histogram GBT).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from forests.ensemble import TREE_FIELDS, TreeEnsemble, max_nodes_for_depth
from forests.extraction import from_tfdf
from tff_train.physio.tasks import ClientDataset
from tff_train.runtime.tff_runtime import import_tff


def _check_positive_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")


@dataclasses.dataclass(frozen=True)
class ForestConfig:
    """Federated random forest settings (max_depth = splits on a root-to-leaf path)."""

    num_classes: int
    num_trees_per_client: int = 10
    max_depth: int = 6
    keep_top_n: int = 20
    volume_exponent: float = 1.0
    min_examples: int = 5
    winner_take_all: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        _check_positive_int("num_classes", self.num_classes, 2)
        _check_positive_int("num_trees_per_client", self.num_trees_per_client)
        _check_positive_int("max_depth", self.max_depth)
        _check_positive_int("keep_top_n", self.keep_top_n)
        _check_positive_int("min_examples", self.min_examples)
        _check_positive_int("seed", self.seed, 0)
        if not 0.0 <= float(self.volume_exponent) <= 4.0:
            raise ValueError(f"volume_exponent must be in [0, 4]; got {self.volume_exponent}")


@dataclasses.dataclass
class FederatedStats:
    """What a federated run sent and achieved (plain types, JSON-friendly via asdict)."""

    uplink_bytes_per_client: list[int]
    downlink_bytes_per_client: list[int]
    uplink_type: str
    rounds: int
    num_trees: int
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)


# --------------------------------------------------------------------------- validation
def validate_client_datasets(
    client_datasets: Sequence[ClientDataset], num_classes: int
) -> int:
    """Checks (x_train float32[n,F], y_train int[n], x_val, y_val) per client; returns F."""
    if not isinstance(client_datasets, Sequence) or len(client_datasets) == 0:
        raise ValueError("client_datasets must be a non-empty sequence of (x, y, x_val, y_val)")
    width = None
    for c, data in enumerate(client_datasets):
        if not isinstance(data, Sequence) or len(data) != 4:
            raise ValueError(f"client_datasets[{c}] must be (x_train, y_train, x_val, y_val)")
        for part, (x, y) in (("train", data[:2]), ("val", data[2:])):
            x, y = np.asarray(x), np.asarray(y)
            if x.ndim != 2 or x.shape[0] == 0 or not np.issubdtype(x.dtype, np.floating):
                raise ValueError(
                    f"client_datasets[{c}] x_{part} must be float[n,F] with n >= 1; "
                    f"got {x.dtype}{list(x.shape)}"
                )
            if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(
                    f"client_datasets[{c}] y_{part} must be int[{x.shape[0]}]; "
                    f"got {y.dtype}{list(y.shape)}"
                )
            if y.min() < 0 or y.max() >= num_classes:
                raise ValueError(
                    f"client_datasets[{c}] y_{part} labels must be in [0, {num_classes}); "
                    f"got [{y.min()}, {y.max()}]"
                )
            if width is None:
                width = x.shape[1]
            if x.shape[1] != width:
                raise ValueError(
                    f"client_datasets[{c}] x_{part} has {x.shape[1]} features; "
                    f"client_datasets[0] has {width}"
                )
    return int(width)


# --------------------------------------------------------------------------- on-device steps
def _dataset(x: np.ndarray, y: np.ndarray) -> object:
    return tf.data.Dataset.from_tensor_slices((np.asarray(x, np.float32), y)).batch(1024)


def grow_local_forest(
    x: np.ndarray, y: np.ndarray, config: ForestConfig, seed: int, feature_names: Sequence[str]
) -> TreeEnsemble:
    """On-device TF-DF random forest as an 'rf' TreeEnsemble. x: float32[n,F], y: int[n]."""
    import tensorflow_decision_forests as tfdf  # noqa: PLC0415 (heavy, on-device step only)

    model = tfdf.keras.RandomForestModel(
        num_trees=config.num_trees_per_client, max_depth=config.max_depth + 1,
        min_examples=config.min_examples, winner_take_all=config.winner_take_all,
        compute_oob_performances=False, random_seed=seed, verbose=0)
    model.fit(_dataset(x, np.asarray(y, np.int64)), verbose=0)
    return from_tfdf(model, feature_names=feature_names, num_classes=config.num_classes)


def tree_accuracies(ensemble: TreeEnsemble, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Accuracy of every 'rf' tree alone. x: float32[n,F], y: int[n] -> float32[T]."""
    votes = ensemble.tree_values(x).argmax(axis=-1)  # [n,T]
    return (votes == np.asarray(y)[:, None]).mean(axis=0).astype(np.float32)


# --------------------------------------------------------------------------- TFF computations
def _tree_types(tff: object, num_trees: int, num_nodes: int, leaf_dim: int) -> OrderedDict:
    shape = [num_trees, num_nodes]
    return OrderedDict(
        feature=tff.TensorType(np.int32, shape),
        threshold=tff.TensorType(np.float32, shape),
        left=tff.TensorType(np.int32, shape),
        right=tff.TensorType(np.int32, shape),
        missing_go_right=tff.TensorType(np.bool_, shape),
        leaf_value=tff.TensorType(np.float32, [*shape, leaf_dim]),
    )


def _empty_trees(num_trees: int, num_nodes: int, leaf_dim: int) -> OrderedDict:
    shape = [num_trees, num_nodes]
    return OrderedDict(
        feature=tf.fill(shape, -1), threshold=tf.zeros(shape), left=tf.fill(shape, -1),
        right=tf.fill(shape, -1), missing_go_right=tf.zeros(shape, tf.bool),
        leaf_value=tf.zeros([*shape, leaf_dim]),
    )


def _top_trees(candidates: OrderedDict, capacity: int) -> OrderedDict:
    """Keeps the `capacity` highest-`score` rows of every per-tree field (ties: earlier first)."""
    keep = tf.math.top_k(candidates["score"], k=capacity, sorted=True).indices
    return OrderedDict((name, tf.gather(value, keep)) for name, value in candidates.items())


def build_tree_aggregation(
    trees_per_client: int, num_nodes: int, leaf_dim: int, capacity: int, volume_exponent: float,
) -> object:
    """A `tff.federated_computation`: client tree tensors @CLIENTS -> top-`capacity` @SERVER.

    Client value: TREE_FIELDS [k,M,...], quality float32[k], num_examples int32; trees are kept
    by score = quality * n**volume_exponent. Server value: the same per-tree fields
    [capacity,...], score float32[capacity] (-inf = empty slot) and total_examples float32.
    """
    tff = import_tff()
    k = trees_per_client
    client_type = _tree_types(tff, k, num_nodes, leaf_dim)
    buffer_type = _tree_types(tff, capacity, num_nodes, leaf_dim)
    client_type["quality"] = tff.TensorType(np.float32, [k])
    client_type["num_examples"] = tff.TensorType(np.int32)
    buffer_type["score"] = tff.TensorType(np.float32, [capacity])
    buffer_type["total_examples"] = tff.TensorType(np.float32)
    tree_names = [n for n in buffer_type if n not in ("score", "total_examples")]

    def merge_buffers(a: OrderedDict, b: OrderedDict) -> OrderedDict:
        candidates = OrderedDict(
            (n, tf.concat([a[n], b[n]], axis=0)) for n in [*tree_names, "score"])
        out = _top_trees(candidates, capacity)
        out["total_examples"] = a["total_examples"] + b["total_examples"]
        return out

    @tff.tensorflow.computation
    def zero() -> OrderedDict:
        out = _empty_trees(capacity, num_nodes, leaf_dim)
        out["score"] = tf.fill([capacity], -np.inf)
        out["total_examples"] = tf.constant(0.0)
        return out

    @tff.tensorflow.computation(buffer_type, client_type)
    def accumulate(buffer: OrderedDict, value: OrderedDict) -> OrderedDict:
        n = tf.cast(value["num_examples"], tf.float32)
        incoming = OrderedDict((name, value[name]) for name in tree_names)
        incoming["score"] = value["quality"] * tf.pow(n, volume_exponent)
        incoming["total_examples"] = n
        return merge_buffers(buffer, incoming)

    @tff.tensorflow.computation(buffer_type, buffer_type)
    def merge(a: OrderedDict, b: OrderedDict) -> OrderedDict:
        return merge_buffers(a, b)

    @tff.tensorflow.computation(buffer_type)
    def report(buffer: OrderedDict) -> OrderedDict:
        return OrderedDict(buffer)

    @tff.federated_computation(tff.FederatedType(client_type, tff.CLIENTS))
    def aggregate(client_trees: object) -> object:
        return tff.federated_aggregate(client_trees, zero(), accumulate, merge, report)

    return aggregate


def _payload(trees: TreeEnsemble, quality: np.ndarray, num_examples: int) -> OrderedDict:
    arrays = trees.to_arrays()
    out = OrderedDict((name, arrays[name]) for name in TREE_FIELDS)
    out["quality"] = np.asarray(quality, np.float32)
    out["num_examples"] = np.int32(num_examples)
    return out


def _nbytes(payload: OrderedDict) -> int:
    return int(sum(np.asarray(v).nbytes for v in payload.values()))


def _kept(buffer: OrderedDict, names: Sequence[str]) -> OrderedDict:
    keep = np.isfinite(buffer["score"])
    return OrderedDict((n, np.asarray(buffer[n])[keep]) for n in names)


# --------------------------------------------------------------------------- drivers
def train_federated_forest(
    client_datasets: Sequence[ClientDataset],
    config: ForestConfig,
    feature_names: Sequence[str] | None = None,
) -> tuple[TreeEnsemble, FederatedStats]:
    """Federated random forest; returns the server's 'rf' TreeEnsemble and what was sent.

    client_datasets: per client (x_train float32[n,F], y_train int[n], x_val, y_val).
    """
    if not isinstance(config, ForestConfig):
        raise ValueError(f"config must be a ForestConfig; got {type(config).__name__}")
    width = validate_client_datasets(client_datasets, config.num_classes)
    names = _feature_names(feature_names, width)
    num_nodes = max_nodes_for_depth(config.max_depth)
    payloads, history = [], []
    for c, (x, y, x_val, y_val) in enumerate(client_datasets):
        forest = grow_local_forest(x, y, config, config.seed + 1000 * c, names)
        forest = forest.pad(num_nodes=num_nodes)
        quality = tree_accuracies(forest, x_val, y_val)
        history.append({"client": c, "mean_tree_val_accuracy": float(quality.mean()),
                        "local_forest_val_accuracy": _accuracy(forest, x_val, y_val)})
        payloads.append(_payload(forest, quality, len(x)))
    aggregate = build_tree_aggregation(
        config.num_trees_per_client, num_nodes, config.num_classes, config.keep_top_n,
        float(config.volume_exponent))
    buffer = aggregate(payloads)
    kept = _kept(buffer, TREE_FIELDS)
    ensemble = TreeEnsemble(kind="rf", num_classes=config.num_classes, feature_names=names,
                            **kept)
    stats = FederatedStats(
        uplink_bytes_per_client=[_nbytes(p) for p in payloads],
        downlink_bytes_per_client=[0] * len(client_datasets),
        uplink_type=str(aggregate.type_signature.parameter),
        rounds=1, num_trees=ensemble.num_trees, history=history)
    return ensemble, stats


def _feature_names(feature_names: Sequence[str] | None, width: int) -> tuple[str, ...]:
    if feature_names is None:
        return tuple(f"x{i}" for i in range(width))
    if len(feature_names) != width:
        raise ValueError(
            f"feature_names must have {width} names (the clients' feature count); "
            f"got {len(feature_names)}"
        )
    return tuple(feature_names)


def _accuracy(ensemble: TreeEnsemble, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(ensemble.predict(x) == np.asarray(y)))
