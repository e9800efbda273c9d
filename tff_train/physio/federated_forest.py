"""The federated random forest on TFF (federated boosting: `tff_train.physio.histogram_boosting`).

Clients grow trees on-device with TF-DF (outside TFF, like local training; the random forest fits
run in the TF-DF fit worker process, `tff_train.physio.fit_worker`), turn them into the
fixed-shape `TreeEnsemble` tensors and only those tensors (and counts) travel, as TFF values.

- Federated forest (`train_federated_forest`): each client grows `num_trees_per_client`
  candidate trees; three rounds: (1) the largest node count of any client's trees fixes the node
  axis (`build_node_count_max`: the server learns only that maximum); (2) the clients upload
  their candidates (`build_candidate_gather`: a `tff.federated_aggregate` that places each
  client's trees in its own slot); (3) the server broadcasts all candidates
  (`build_candidate_scores`: `tff.federated_broadcast`), each client counts, per candidate, its
  validation windows the tree classifies correctly and its window count, with its OWN candidates
  masked to 0 on device, and `tff.federated_sum` adds them up (int32 counts, so secure
  aggregation applies). A candidate's score is its pooled accuracy on the
  other clients' validation windows (the grower's own validation windows are excluded: they come
  from the same person and session as its training rows, so they reward trees that fit the grower
  only); the server keeps the `keep_top_n` best.
It returns `FederatedStats` with the bytes each client sent (sum of its tensors' nbytes) and got
(shared with the histogram GBT, `tff_train.physio.histogram_boosting`).
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from forests.ensemble import TREE_FIELDS, TreeEnsemble
from forests.extraction import from_tfdf
from forests.graph import forest_outputs_tf
from tff_train.physio.fit_worker import run_in_fit_worker
from tff_train.physio.tasks import ClientDataset
from tff_train.runtime.tff_runtime import import_tff


def _check_positive_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")


@dataclasses.dataclass(frozen=True)
class ForestConfig:
    """Federated random forest settings (max_depth = splits on a root-to-leaf path).

    Each client grows `num_trees_per_client` candidates; the server keeps the `keep_top_n` of
    highest accuracy on the other clients' validation windows (all, if there are fewer).
    """

    num_classes: int
    num_trees_per_client: int = 10
    max_depth: int = 6
    keep_top_n: int = 20
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
    """On-device TF-DF random forest as an 'rf' TreeEnsemble. x: float32[n,F], y: int[n].

    The fit runs in the TF-DF fit worker process (`fit_local_forest_npz` there), so this process
    never imports TF-DF; the trees are those an in-process fit grows.
    """
    return ensemble_from_npz(run_in_fit_worker(
        "tff_train.physio.federated_forest:fit_local_forest_npz",
        np.asarray(x, np.float32), np.asarray(y, np.int64), config, int(seed),
        tuple(feature_names)))


def fit_local_forest_npz(
    x: np.ndarray, y: np.ndarray, config: ForestConfig, seed: int, feature_names: Sequence[str]
) -> bytes:
    """The in-process TF-DF fit of `grow_local_forest`; returns its 'rf' TreeEnsemble as npz.

    x: float32[n,F]; y: int[n]. Imports TF-DF: meant to run in the fit worker.
    """
    import tensorflow_decision_forests as tfdf  # noqa: PLC0415 (heavy, fit worker only)

    model = tfdf.keras.RandomForestModel(
        num_trees=config.num_trees_per_client, max_depth=config.max_depth + 1,
        min_examples=config.min_examples, winner_take_all=config.winner_take_all,
        compute_oob_performances=False, random_seed=seed, verbose=0)
    model.fit(_dataset(x, np.asarray(y, np.int64)), verbose=0)
    return ensemble_to_npz(
        from_tfdf(model, feature_names=feature_names, num_classes=config.num_classes))


def ensemble_to_npz(ensemble: TreeEnsemble) -> bytes:
    """`TreeEnsemble` -> the bytes of the .npz `TreeEnsemble.save` writes."""
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array(json.dumps(ensemble.metadata())), **ensemble.to_arrays())
    return buffer.getvalue()


def ensemble_from_npz(data: bytes) -> TreeEnsemble:
    """The inverse of `ensemble_to_npz` (validated by `TreeEnsemble`)."""
    if not isinstance(data, bytes):
        raise ValueError(f"data must be the bytes of a TreeEnsemble .npz; got "
                         f"{type(data).__name__}")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        header = json.loads(str(npz["header"]))
        arrays = {k: npz[k] for k in npz.files if k != "header"}
    return TreeEnsemble(kind=header["kind"], num_classes=header["num_classes"],
                        feature_names=tuple(header["feature_names"]), **arrays)


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


def _first_argmax(values: tf.Tensor) -> tf.Tensor:
    """int32 index of the first maximum along the last axis (numpy's argmax tie rule)."""
    width = tf.shape(values)[-1]
    is_max = values >= tf.reduce_max(values, axis=-1, keepdims=True)
    index = tf.range(width, dtype=tf.int32)
    return tf.reduce_min(tf.where(is_max, index, width), axis=-1)


def build_node_count_max() -> object:
    """A `tff.federated_computation`: int32 node counts @CLIENTS -> their maximum @SERVER.

    A `tff.federated_aggregate` with a max accumulator (associative and commutative), so the
    server learns only the largest count, which fixes the tree tensors' node axis for all.
    """
    tff = import_tff()
    count_type = tff.TensorType(np.int32)

    @tff.tensorflow.computation
    def zero() -> tf.Tensor:
        return tf.constant(0, tf.int32)

    @tff.tensorflow.computation(count_type, count_type)
    def maximum(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        return tf.maximum(a, b)

    @tff.tensorflow.computation(count_type)
    def report(value: tf.Tensor) -> tf.Tensor:
        return tf.identity(value)

    @tff.federated_computation(tff.FederatedType(count_type, tff.CLIENTS))
    def node_count_max(counts: object) -> object:
        return tff.federated_aggregate(counts, zero(), maximum, maximum, report)

    return node_count_max


def build_candidate_gather(num_clients: int, trees_per_client: int, num_nodes: int,
                           num_classes: int) -> object:
    """A `tff.federated_computation`: every client's candidate trees @CLIENTS -> all @SERVER.

    Client value: TREE_FIELDS [k,M,...] of an 'rf' forest (leaf_value [k,M,C]) and its slot
    int32 in [0, num_clients). Server value: TREE_FIELDS [num_clients*k,M,...], client c's trees
    in rows c*k..c*k+k-1, and grower int32[num_clients*k] (the slot; -1 = no client filled it).
    A `tff.federated_aggregate` whose accumulator writes each client's trees into its slot, so
    merging is order-free (slots are disjoint).
    """
    tff = import_tff()
    for name, value in (("num_clients", num_clients), ("trees_per_client", trees_per_client),
                        ("num_nodes", num_nodes)):
        _check_positive_int(name, value)
    _check_positive_int("num_classes", num_classes, 2)
    k, total = trees_per_client, num_clients * trees_per_client
    client_type = _tree_types(tff, k, num_nodes, num_classes)
    client_type["slot"] = tff.TensorType(np.int32)
    buffer_type = _tree_types(tff, total, num_nodes, num_classes)
    buffer_type["grower"] = tff.TensorType(np.int32, [total])

    @tff.tensorflow.computation
    def zero() -> OrderedDict:
        out = _empty_trees(total, num_nodes, num_classes)
        out["grower"] = tf.fill([total], -1)
        return out

    @tff.tensorflow.computation(buffer_type, client_type)
    def accumulate(buffer: OrderedDict, value: OrderedDict) -> OrderedDict:
        rows = (value["slot"] * k + tf.range(k, dtype=tf.int32))[:, tf.newaxis]
        out = OrderedDict(
            (name, tf.tensor_scatter_nd_update(buffer[name], rows, value[name]))
            for name in TREE_FIELDS)
        out["grower"] = tf.tensor_scatter_nd_update(
            buffer["grower"], rows, tf.fill([k], value["slot"]))
        return out

    @tff.tensorflow.computation(buffer_type, buffer_type)
    def merge(a: OrderedDict, b: OrderedDict) -> OrderedDict:
        filled = a["grower"] >= 0
        out = OrderedDict()
        for name in [*TREE_FIELDS, "grower"]:
            mask = tf.reshape(filled, [-1] + [1] * (a[name].shape.rank - 1))
            out[name] = tf.where(mask, a[name], b[name])
        return out

    @tff.tensorflow.computation(buffer_type)
    def report(buffer: OrderedDict) -> OrderedDict:
        return buffer

    @tff.federated_computation(tff.FederatedType(client_type, tff.CLIENTS))
    def gather(client_trees: object) -> object:
        return tff.federated_aggregate(client_trees, zero(), accumulate, merge, report)

    return gather


def build_candidate_scores(num_candidates: int, trees_per_client: int, num_nodes: int,
                           num_features: int, num_classes: int, depth: int) -> object:
    """A `tff.federated_computation`: candidate trees @SERVER, validation windows @CLIENTS ->
    per-candidate correct and example counts summed over the clients @SERVER.

    Server value: TREE_FIELDS [T,M,...] of 'rf' trees (T = num_candidates, leaf_value [T,M,C]).
    Client value: x float32[n,F], y int32[n], slot int32 (the client's candidates are rows
    slot*k..slot*k+k-1). The trees are sent with `tff.federated_broadcast`; each client routes its
    windows through every tree (`forests.graph.forest_outputs_tf`, the TFLite converter's
    traversal, one tree at a time), takes each tree's vote (first arg max of its leaf
    distribution) and returns correct int32[T] and count int32[T] (= n), both 0 for its own
    candidates; `tff.federated_sum` adds them (int32, so TFF's secure sum applies unchanged).
    Result: OrderedDict(correct=int32[T], count=int32[T]) @SERVER.
    """
    tff = import_tff()
    for name, value in (("num_candidates", num_candidates),
                        ("trees_per_client", trees_per_client), ("num_nodes", num_nodes),
                        ("num_features", num_features), ("depth", depth)):
        _check_positive_int(name, value)
    _check_positive_int("num_classes", num_classes, 2)
    if num_candidates % trees_per_client:
        raise ValueError(f"num_candidates must be a multiple of trees_per_client="
                         f"{trees_per_client}; got {num_candidates}")
    k = trees_per_client
    trees_type = _tree_types(tff, num_candidates, num_nodes, num_classes)
    client_type = OrderedDict(x=tff.TensorType(np.float32, [None, num_features]),
                              y=tff.TensorType(np.int32, [None]),
                              slot=tff.TensorType(np.int32))

    @tff.tensorflow.computation(trees_type, client_type)
    def client_counts(trees: OrderedDict, data: OrderedDict) -> OrderedDict:
        def tree_votes(tree: tuple) -> tf.Tensor:
            arrays = {name: value[tf.newaxis] for name, value in zip(TREE_FIELDS, tree,
                                                                      strict=True)}
            return _first_argmax(forest_outputs_tf(data["x"], arrays, "rf", num_classes, depth))

        votes = tf.map_fn(tree_votes, tuple(trees[name] for name in TREE_FIELDS),
                          fn_output_signature=tf.TensorSpec([None], tf.int32))  # [T,n]
        correct = tf.reduce_sum(tf.cast(tf.equal(votes, data["y"][tf.newaxis, :]), tf.int32),
                                axis=1)
        own = tf.equal(tf.range(num_candidates, dtype=tf.int32) // k, data["slot"])
        n = tf.fill([num_candidates], tf.size(data["y"], out_type=tf.int32))
        return OrderedDict(correct=tf.where(own, 0, correct), count=tf.where(own, 0, n))

    @tff.federated_computation(tff.FederatedType(trees_type, tff.SERVER),
                               tff.FederatedType(client_type, tff.CLIENTS))
    def candidate_scores(trees: object, data: object) -> object:
        return tff.federated_sum(
            tff.federated_map(client_counts, (tff.federated_broadcast(trees), data)))

    return candidate_scores


def _nbytes(payload: OrderedDict) -> int:
    return int(sum(np.asarray(v).nbytes for v in payload.values()))


# --------------------------------------------------------------------------- drivers
def train_federated_forest(
    client_datasets: Sequence[ClientDataset],
    config: ForestConfig,
    feature_names: Sequence[str] | None = None,
) -> tuple[TreeEnsemble, FederatedStats]:
    """Federated random forest with cross-client tree scoring; returns the server's 'rf'
    TreeEnsemble (`keep_top_n` trees) and what was sent.

    client_datasets: per client (x_train float32[n,F], y_train int[n], x_val, y_val); at least 2
    clients (every candidate is scored on the other clients' validation windows). Each client
    grows `num_trees_per_client` trees on its training rows; round 1: the clients agree on the
    node axis (the largest node count, `build_node_count_max`); round 2: they upload their trees
    (`build_candidate_gather`); round 3: the server broadcasts all candidates, the clients
    return per-candidate correct / example counts on their validation windows (their own
    candidates masked out; `build_candidate_scores`) and the server keeps the `keep_top_n`
    candidates of highest pooled accuracy (ties: lower client, then tree index).
    `stats.history` has one entry per client: the mean accuracy of its trees on its own and on
    the other clients' validation windows, its local forest's own-validation accuracy and how
    many of its trees were kept.
    """
    if not isinstance(config, ForestConfig):
        raise ValueError(f"config must be a ForestConfig; got {type(config).__name__}")
    width = validate_client_datasets(client_datasets, config.num_classes)
    if len(client_datasets) < 2:
        raise ValueError(
            "client_datasets must hold >= 2 clients for the federated forest (each candidate "
            f"tree is scored on the other clients' validation windows); got {len(client_datasets)}")
    names = _feature_names(feature_names, width)
    num_clients, k = len(client_datasets), config.num_trees_per_client
    forests, history = [], []
    for c, (x, y, x_val, y_val) in enumerate(client_datasets):
        forest = grow_local_forest(x, y, config, config.seed + 1000 * c, names)
        if forest.num_trees != k:
            raise RuntimeError(f"client {c} grew {forest.num_trees} trees; expected "
                               f"num_trees_per_client={k}")
        forests.append(_trim_nodes(forest))
        history.append({"client": c,
                        "mean_tree_val_accuracy": float(tree_accuracies(forest, x_val,
                                                                        y_val).mean()),
                        "local_forest_val_accuracy": _accuracy(forest, x_val, y_val)})

    # Round 1: agree on the node axis (the largest tree any client grew), so the trees travel
    # without the padding of max_nodes_for_depth(max_depth) (8,191 nodes at depth 12).
    node_count_max = build_node_count_max()
    num_nodes = int(node_count_max([np.int32(f.max_nodes) for f in forests]))
    # Round 2: the candidates.
    uploads = [OrderedDict([*((n, getattr(f.pad(num_nodes=num_nodes), n)) for n in TREE_FIELDS),
                            ("slot", np.int32(c))]) for c, f in enumerate(forests)]
    gather = build_candidate_gather(num_clients, k, num_nodes, config.num_classes)
    server = gather(uploads)
    if not np.array_equal(server["grower"], np.repeat(np.arange(num_clients), k)):
        raise RuntimeError(f"candidate gather filled slots {server['grower'].tolist()}; "
                           f"expected {k} per client 0..{num_clients - 1}")
    candidates = OrderedDict((n, np.asarray(server[n])) for n in TREE_FIELDS)

    # Round 3: broadcast them; the clients' counts come back summed.
    scores = build_candidate_scores(num_clients * k, k, num_nodes, width, config.num_classes,
                                    config.max_depth)
    replies = [OrderedDict(x=np.asarray(d[2], np.float32), y=np.asarray(d[3], np.int32),
                           slot=np.int32(c)) for c, d in enumerate(client_datasets)]
    sums = scores(candidates, replies)
    correct, count = np.asarray(sums["correct"], np.int64), np.asarray(sums["count"], np.int64)
    accuracy = correct / np.maximum(count, 1)
    pool = TreeEnsemble(kind="rf", num_classes=config.num_classes, feature_names=names,
                        **candidates)
    accuracy[pool.is_null_tree()] = -np.inf  # padding trees are never kept
    order = np.lexsort((np.arange(accuracy.size), -accuracy))  # best first, ties: lower index
    keep = np.sort(order[:min(config.keep_top_n, int(np.isfinite(accuracy).sum()))])
    ensemble = pool.select_trees(keep)
    for c, entry in enumerate(history):
        rows = accuracy[c * k:(c + 1) * k]
        entry["mean_tree_cross_client_accuracy"] = float(np.mean(rows[np.isfinite(rows)])) \
            if np.isfinite(rows).any() else float("nan")
        entry["kept_trees"] = int(np.sum((keep >= c * k) & (keep < (c + 1) * k)))

    count_bytes = np.dtype(np.int32).itemsize  # round 1: one int32 up, the maximum down
    reply_bytes = (correct.size + count.size) * np.dtype(np.int32).itemsize
    stats = FederatedStats(
        uplink_bytes_per_client=[count_bytes + _nbytes(u) + reply_bytes for u in uploads],
        downlink_bytes_per_client=[count_bytes + _nbytes(candidates)] * num_clients,
        uplink_type=(f"round 1 (node count): {node_count_max.type_signature.parameter}; "
                     f"round 2 (trees): {gather.type_signature.parameter}; round 3 (counts, "
                     f"federated_sum): {{{scores.type_signature.result.member}}}@CLIENTS"),
        rounds=3, num_trees=ensemble.num_trees, history=history)
    return ensemble, stats


def _trim_nodes(forest: TreeEnsemble) -> TreeEnsemble:
    """Drops the trailing node slots no tree reaches (same trees; node axis = used nodes)."""
    used = _used_nodes(forest.feature, forest.left, forest.right)
    return forest.replace(**{n: getattr(forest, n)[:, :used] for n in TREE_FIELDS})


def _used_nodes(feature: np.ndarray, left: np.ndarray, right: np.ndarray) -> int:
    """1 + the highest node id any tree reaches (int32[T,M] tables; nodes beyond are padding)."""
    internal = feature >= 0
    return 1 + int(max(left[internal].max(initial=0), right[internal].max(initial=0)))


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
