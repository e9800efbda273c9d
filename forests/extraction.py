"""Trained forests -> `TreeEnsemble`: TF-DF RandomForest / GradientBoostedTrees, sklearn RF.

Exactness contract: `TreeEnsemble.predict_proba` reproduces the source model's own probabilities
(argmax identical, |diff| <= 1e-5), including rows exactly on thresholds and NaN features.
- TF-DF splits are already "x >= threshold" in float32; `missing_evaluation` gives NaN routing.
  Random forests trained with `winner_take_all=True` (the default) vote: their leaves become
  one-hot at the leaf's top class (first maximum, like YDF's `TopClass`).
- sklearn splits are "go left iff float64(x) <= t" on float32 inputs. For float32 x that is
  "go right iff x >= t32" with t32 = the smallest float32 strictly above t (see
  `sklearn_threshold_to_float32`); NaN follows `tree_.missing_go_to_left` (sklearn >= 1.3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from forests.ensemble import TreeEnsemble

# TF-DF names the columns of one dense input tensor "<input>:<k>.<column>" (e.g. "data:0.7").
_POSITIONAL_NAME = re.compile(r"^(?P<input>.+:\d+)\.(?P<column>\d+)$")


def sklearn_threshold_to_float32(threshold: np.ndarray) -> np.ndarray:
    """float64 t of `x <= t` splits -> float32 t32 with (float32 x > t) <=> (x >= t32).

    t32 = nextafter(f, +inf) where f is the largest float32 <= t. threshold: float64[...].
    """
    t = np.asarray(threshold, np.float64)
    if np.any(np.isnan(t)):
        raise ValueError("threshold must not contain NaN")
    with np.errstate(over="ignore"):  # |t| beyond float32 range -> +-inf, handled below
        f = t.astype(np.float32)
        f = np.where(f.astype(np.float64) > t, np.nextafter(f, np.float32(-np.inf)), f)
        return np.nextafter(f, np.float32(np.inf)).astype(np.float32)


# --------------------------------------------------------------------------- sklearn
def from_sklearn(model: object, feature_names: Sequence[str] | None = None) -> TreeEnsemble:
    """A fitted `sklearn.ensemble.RandomForestClassifier` -> 'rf' TreeEnsemble.

    Column order = sklearn's training column order; class order = `model.classes_`.
    Names: `feature_names`, else `model.feature_names_in_`, else "x0".."x{F-1}".
    """
    estimators = getattr(model, "estimators_", None)
    if estimators is None or not hasattr(model, "classes_") or not hasattr(model, "predict_proba"):
        raise ValueError(
            f"model must be a fitted sklearn RandomForestClassifier; got {type(model).__name__}"
        )
    if getattr(model, "n_outputs_", 1) != 1:
        raise ValueError(f"model must have a single output; got n_outputs_={model.n_outputs_}")
    num_features = int(model.n_features_in_)
    names = _resolve_names(feature_names, getattr(model, "feature_names_in_", None), num_features)
    num_classes = len(model.classes_)
    trees = [_sklearn_tree(est.tree_, num_classes) for est in estimators]
    return _stack("rf", trees, num_classes, names)


def _sklearn_tree(tree: object, num_classes: int) -> dict[str, np.ndarray]:
    """One sklearn `tree_` -> per-node arrays (node ids kept; leaves have children -1)."""
    internal = tree.children_left >= 0
    value = np.asarray(tree.value, np.float64)[:, 0, :]
    if value.shape[1] != num_classes:
        raise ValueError(f"tree has {value.shape[1]} classes; the forest has {num_classes}")
    total = value.sum(axis=1, keepdims=True)
    dist = np.where(total > 0, value / np.where(total > 0, total, 1.0), 0.0)
    missing_left = getattr(tree, "missing_go_to_left", None)
    if missing_left is None:  # sklearn < 1.3 has no NaN routing: NaN compares False -> right
        missing_left = np.zeros(tree.node_count, bool)
    return {
        "feature": np.where(internal, tree.feature, -1),
        "threshold": np.where(internal, sklearn_threshold_to_float32(
            np.where(internal, tree.threshold, 0.0)), 0.0),
        "left": np.where(internal, tree.children_left, -1),
        "right": np.where(internal, tree.children_right, -1),
        "missing_go_right": internal & ~np.asarray(missing_left, bool),
        "leaf_value": np.where(internal[:, None], 0.0, dist),
    }


# --------------------------------------------------------------------------- TF-DF
def from_tfdf(
    model: object,
    feature_names: Sequence[str] | None = None,
    num_classes: int | None = None,
) -> TreeEnsemble:
    """A trained TF-DF `RandomForestModel` or `GradientBoostedTreesModel` (classification).

    Columns: a TF-DF feature named like one of `feature_names` maps to that column; one named
    "<input>:0.<k>" (the k-th column of a dense matrix input) maps to column k. Without
    `feature_names` every feature must be positional and names become "x0".."x{F-1}".
    num_classes: pad a random forest's class axis when its training data lacked top classes.
    """
    import tensorflow_decision_forests as tfdf  # noqa: PLC0415 (heavy, only for this path)

    if not hasattr(model, "make_inspector"):
        raise ValueError(f"model must be a trained TF-DF model; got {type(model).__name__}")
    inspector = model.make_inspector()
    model_type = inspector.model_type()
    if inspector.task != tfdf.keras.Task.CLASSIFICATION:
        raise ValueError(f"model must be a classification model; got task {inspector.task}")
    columns, names = _tfdf_columns(inspector, feature_names)
    trees = inspector.extract_all_trees()
    if model_type == "RANDOM_FOREST":
        header = inspector.specialized_header()
        return _tfdf_random_forest(trees, columns, names, header.winner_take_all_inference,
                                   num_classes)
    if model_type == "GRADIENT_BOOSTED_TREES":
        return _tfdf_boosted_trees(inspector, trees, columns, names, num_classes)
    raise ValueError(
        f"model must be a RANDOM_FOREST or GRADIENT_BOOSTED_TREES model; got {model_type!r}"
    )


def _tfdf_columns(
    inspector: object, feature_names: Sequence[str] | None
) -> tuple[dict[str, int], tuple[str, ...]]:
    """Maps each TF-DF input feature name to its column; returns (mapping, ensemble names)."""
    from tensorflow_decision_forests.component.py_tree import dataspec  # noqa: PLC0415

    columns: dict[str, int] = {}
    specs = inspector.features()
    lookup = {n: i for i, n in enumerate(feature_names)} if feature_names is not None else {}
    for spec in specs:
        if spec.type != dataspec.ColumnType.NUMERICAL:
            raise ValueError(
                f"only numerical features are supported; feature {spec.name!r} has column type "
                f"{spec.type}"
            )
        match = _POSITIONAL_NAME.match(spec.name)
        if spec.name in lookup:
            columns[spec.name] = lookup[spec.name]
        elif match:
            columns[spec.name] = int(match["column"])
        elif len(specs) == 1 and (feature_names is None or len(feature_names) == 1):
            columns[spec.name] = 0  # a single-column matrix is named "<input>:0"
        else:
            raise ValueError(
                f"cannot place TF-DF feature {spec.name!r}: it is neither in feature_names "
                f"{list(feature_names or [])} nor named '<input>:0.<column>'"
            )
    num_features = len(feature_names) if feature_names is not None else max(columns.values()) + 1
    if max(columns.values()) >= num_features:
        raise ValueError(
            f"the model uses column {max(columns.values())} but feature_names has only "
            f"{num_features} names"
        )
    if len(set(columns.values())) != len(columns):
        raise ValueError(f"two TF-DF features map to the same column: {columns}")
    names = _resolve_names(feature_names, None, num_features)
    return columns, names


def _tfdf_random_forest(
    trees: list, columns: dict[str, int], names: tuple[str, ...], winner_take_all: bool,
    num_classes: int | None,
) -> TreeEnsemble:
    width = {len(_tfdf_leaves(t)[0].value.probability) for t in trees}
    if len(width) != 1:
        raise ValueError(f"trees disagree on the number of classes: {sorted(width)}")
    classes = width.pop()
    if num_classes is None:
        num_classes = classes
    if num_classes < classes:
        raise ValueError(f"num_classes={num_classes} but the model predicts {classes} classes")

    def leaf(node: object) -> np.ndarray:
        prob = np.asarray(node.value.probability, np.float64)
        if winner_take_all:
            prob = np.eye(classes)[int(np.argmax(prob))]  # first maximum, as YDF's TopClass
        return np.pad(prob, (0, num_classes - classes))

    return _stack("rf", [_tfdf_tree(t, columns, leaf) for t in trees], num_classes, names)


def _tfdf_boosted_trees(
    inspector: object, trees: list, columns: dict[str, int], names: tuple[str, ...],
    num_classes: int | None,
) -> TreeEnsemble:
    header = inspector.specialized_header()
    loss = header.DESCRIPTOR.fields_by_name["loss"].enum_type.values_by_number[header.loss].name
    per_iter = int(header.num_trees_per_iter)
    if loss == "BINOMIAL_LOG_LIKELIHOOD":
        classes = 2
    elif loss == "MULTINOMIAL_LOG_LIKELIHOOD":
        classes = per_iter
    else:
        raise ValueError(
            f"only BINOMIAL/MULTINOMIAL_LOG_LIKELIHOOD losses are supported; got {loss}"
        )
    if num_classes is not None and num_classes != classes:
        raise ValueError(f"num_classes={num_classes} but the model predicts {classes} classes")
    bias = np.asarray(header.initial_predictions, np.float32)
    if bias.shape != (per_iter,) or len(trees) % per_iter:
        raise ValueError(
            f"inconsistent GBT header: {len(trees)} trees, {per_iter} per iteration, "
            f"{bias.size} initial predictions"
        )

    def leaf(node: object) -> np.ndarray:
        return np.asarray([node.value.value], np.float64)

    arrays = [_tfdf_tree(t, columns, leaf) for t in trees]
    output_class = np.arange(len(trees)) % per_iter  # iteration-major, one tree per class
    return _stack("gbt", arrays, classes, names, bias=bias, output_class=output_class)


def _tfdf_leaves(tree: object) -> list:
    """The leaves of a `tfdf.py_tree` tree, depth first."""
    stack, leaves = [tree.root], []
    while stack:
        node = stack.pop()
        if hasattr(node, "condition"):
            stack += [node.neg_child, node.pos_child]
        else:
            leaves.append(node)
    return leaves


def _tfdf_tree(tree: object, columns: dict[str, int], leaf_fn: object) -> dict[str, np.ndarray]:
    """A `tfdf.py_tree.tree.Tree` -> per-node arrays in breadth-first order."""
    from tensorflow_decision_forests.component.py_tree import condition as cond  # noqa: PLC0415

    nodes, rows = [tree.root], []
    i = 0
    while i < len(nodes):
        node = nodes[i]
        if hasattr(node, "condition"):
            c = node.condition
            if not isinstance(c, cond.NumericalHigherThanCondition):
                raise ValueError(
                    f"only 'x >= threshold' conditions are supported; got {type(c).__name__} "
                    f"({c})"
                )
            left, right = len(nodes), len(nodes) + 1
            nodes += [node.neg_child, node.pos_child]
            rows.append((columns[c.feature.name], c.threshold, left, right,
                         bool(c.missing_evaluation), None))
        else:
            rows.append((-1, 0.0, -1, -1, False, leaf_fn(node)))
        i += 1
    width = len(next(r[5] for r in rows if r[5] is not None))
    return {
        "feature": np.array([r[0] for r in rows]),
        "threshold": np.array([r[1] for r in rows], np.float32),
        "left": np.array([r[2] for r in rows]),
        "right": np.array([r[3] for r in rows]),
        "missing_go_right": np.array([r[4] for r in rows], bool),
        "leaf_value": np.array([np.zeros(width) if r[5] is None else r[5] for r in rows]),
    }


# --------------------------------------------------------------------------- shared
def _resolve_names(
    given: Sequence[str] | None, fitted: Sequence[str] | None, num_features: int
) -> tuple[str, ...]:
    if given is not None:
        names = tuple(given)
        if len(names) != num_features:
            raise ValueError(
                f"feature_names must have {num_features} names (num_features); got {len(names)}"
            )
        return names
    if fitted is not None:
        return tuple(str(n) for n in fitted)
    return tuple(f"x{i}" for i in range(num_features))


def _stack(
    kind: str, trees: list[dict[str, np.ndarray]], num_classes: int, names: tuple[str, ...],
    bias: np.ndarray | None = None, output_class: np.ndarray | None = None,
) -> TreeEnsemble:
    """Pads per-tree node arrays to a common node count and builds the TreeEnsemble."""
    if not trees:
        raise ValueError("the model has no trees")
    m = max(len(t["feature"]) for t in trees)
    fill = {"feature": -1, "threshold": 0.0, "left": -1, "right": -1,
            "missing_go_right": False, "leaf_value": 0.0}
    arrays = {}
    for name, value in fill.items():
        padded = []
        for t in trees:
            a = np.asarray(t[name])
            width = [(0, m - len(a))] + [(0, 0)] * (a.ndim - 1)
            padded.append(np.pad(a, width, constant_values=value))
        arrays[name] = np.stack(padded)
    arrays["feature"] = arrays["feature"].astype(np.int32)
    arrays["left"] = arrays["left"].astype(np.int32)
    arrays["right"] = arrays["right"].astype(np.int32)
    extra = {}
    if bias is not None:
        extra["bias"] = bias
    if output_class is not None:
        extra["output_class"] = output_class
    return TreeEnsemble(kind=kind, num_classes=num_classes, feature_names=names, **arrays, **extra)


def from_tfdf_regression(
    model: object,
    num_classes: int,
    output_class: int = 0,
    feature_names: Sequence[str] | None = None,
) -> TreeEnsemble:
    """A TF-DF regression forest as 'gbt' raw-score trees adding to logit `output_class`.

    Random forest leaves are divided by the tree count (so the sum of the trees equals the
    forest's mean); GBT regression leaves are kept and its initial prediction becomes the bias.
    Used by federated boosting to turn trees fitted to gradients into ensemble members.
    """
    import tensorflow_decision_forests as tfdf  # noqa: PLC0415 (heavy, only for this path)

    if not hasattr(model, "make_inspector"):
        raise ValueError(f"model must be a trained TF-DF model; got {type(model).__name__}")
    inspector = model.make_inspector()
    if inspector.task != tfdf.keras.Task.REGRESSION:
        raise ValueError(f"model must be a regression model; got task {inspector.task}")
    num_outputs = 1 if num_classes == 2 else num_classes
    if not 0 <= output_class < num_outputs:
        raise ValueError(
            f"output_class must be in [0, {num_outputs}) for num_classes={num_classes}; "
            f"got {output_class}"
        )
    columns, names = _tfdf_columns(inspector, feature_names)
    trees = inspector.extract_all_trees()
    bias = np.zeros(num_outputs, np.float32)
    if inspector.model_type() == "RANDOM_FOREST":
        scale = 1.0 / len(trees)
    elif inspector.model_type() == "GRADIENT_BOOSTED_TREES":
        scale = 1.0
        bias[output_class] = inspector.specialized_header().initial_predictions[0]
    else:
        raise ValueError(f"unsupported model type {inspector.model_type()!r}")

    def leaf(node: object) -> np.ndarray:
        return np.asarray([node.value.value * scale], np.float64)

    arrays = [_tfdf_tree(t, columns, leaf) for t in trees]
    return _stack("gbt", arrays, num_classes, names, bias=bias,
                  output_class=np.full(len(trees), output_class))
