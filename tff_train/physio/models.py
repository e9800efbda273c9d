"""The physio experiment's models: one fit function per name of `MODELS` (`FITTERS`), all
trained on the same client datasets, and the node-table trimming of saved ensembles."""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence

import ml_collections
import numpy as np

from forests.ensemble import TreeEnsemble
from forests.extraction import from_tfdf
from forests.histogram_boosting import fit_histogram_gbt, quantile_edges
from tff_train.physio.config import MODELS, boosting_config, forest_config
from tff_train.physio.federated_forest import (
    FederatedStats,
    ensemble_from_npz,
    ensemble_to_npz,
    train_federated_forest,
)
from tff_train.physio.fit_worker import run_in_fit_worker
from tff_train.physio.histogram_boosting import train_federated_hist_gbt
from tff_train.physio.tasks import ClientDataset

TFDF_KINDS: tuple[str, ...] = ("centralised_rf", "centralised_gbt")  # fitted by `_fit_tfdf`
# (predict: float32[n,F] -> int64[n], ensemble (tree models), federated stats (federated models))
Fitted = tuple[Callable[[np.ndarray], np.ndarray], TreeEnsemble | None, FederatedStats | None]


@dataclasses.dataclass
class FitResult:
    """A trained model's held-out predictions `int64[n]`, training time and what it sent."""

    predictions: np.ndarray
    seconds: float
    ensemble: TreeEnsemble | None = None
    stats: FederatedStats | None = None


def compact_nodes(ensemble: TreeEnsemble) -> TreeEnsemble:
    """Drops trailing padding nodes no tree reaches (same predictions, smaller tables)."""
    internal = ensemble.feature >= 0
    used = 1 + int(max(ensemble.left[internal].max(initial=0),
                       ensemble.right[internal].max(initial=0)))
    if used >= ensemble.max_nodes:
        return ensemble
    fields = {name: getattr(ensemble, name)[:, :used]
              for name in ("feature", "threshold", "left", "right", "missing_go_right",
                           "leaf_value")}
    return ensemble.replace(**fields)


def _pooled(clients: Sequence[ClientDataset], part: int) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated (x, y) of every client's train (part=0) or validation (part=1) split."""
    data = [ClientDataset(*c) for c in clients]
    x = np.concatenate([c.x_val if part else c.x_train for c in data]).astype(np.float32)
    y = np.concatenate([c.y_val if part else c.y_train for c in data]).astype(np.int64)
    return x, y


def _fit_federated_rf(clients: Sequence[ClientDataset], config: ml_collections.ConfigDict,
                      feature_names: Sequence[str], num_classes: int) -> Fitted:
    ens, stats = train_federated_forest(clients, forest_config(config, num_classes),
                                        feature_names)
    return ens.predict, ens, stats


def _fit_federated_gbt(clients: Sequence[ClientDataset], config: ml_collections.ConfigDict,
                       feature_names: Sequence[str], num_classes: int) -> Fitted:
    ens, stats = train_federated_hist_gbt(clients, boosting_config(config, num_classes),
                                          feature_names)
    return ens.predict, ens, stats


def _fit_centralised_hist_gbt(clients: Sequence[ClientDataset],
                              config: ml_collections.ConfigDict, feature_names: Sequence[str],
                              num_classes: int) -> Fitted:
    """The numpy histogram GBT of `federated_gbt` (same `config.federated_gbt` settings) on the
    pooled training rows, with exact quantile bins of those rows, early-stopped on the pooled
    client validation splits."""
    hist_config = boosting_config(config, num_classes)
    x, y = _pooled(clients, 0)
    edges = quantile_edges(x, hist_config.num_bins)
    ens = fit_histogram_gbt(x, y, edges, hist_config, *_pooled(clients, 1),
                            feature_names=feature_names).ensemble
    return ens.predict, ens, None


def _fit_sklearn_rf(clients: Sequence[ClientDataset], config: ml_collections.ConfigDict,
                    feature_names: Sequence[str], num_classes: int) -> Fitted:
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415

    x, y = _pooled(clients, 0)
    c = config.sklearn_rf
    model = RandomForestClassifier(n_estimators=c.num_trees, max_depth=c.max_depth,
                                   n_jobs=c.n_jobs, random_state=config.seed).fit(x, y)
    return (lambda xs: model.classes_[model.predict_proba(xs).argmax(axis=1)]
            .astype(np.int64)), None, None


def _fit_tfdf(kind: str, clients: Sequence[ClientDataset], config: ml_collections.ConfigDict,
              feature_names: Sequence[str], num_classes: int) -> Fitted:
    """TF-DF on the pooled training rows: `kind` "centralised_rf" (RandomForestModel) or
    "centralised_gbt" (GradientBoostedTreesModel, early-stopped on the pooled validation).

    The fit runs in the TF-DF fit worker process (`fit_tfdf_npz` there), so this process never
    imports TF-DF; the trees are those an in-process fit grows.
    """
    if kind not in TFDF_KINDS:
        raise ValueError(f"kind must be one of {list(TFDF_KINDS)}; got {kind!r}")
    x, y = _pooled(clients, 0)
    x_val, y_val = _pooled(clients, 1)
    params = {**config[kind].to_dict(), "seed": int(config.seed)}
    ens = ensemble_from_npz(run_in_fit_worker(
        "tff_train.physio.models:fit_tfdf_npz", kind, params, x, y, x_val, y_val,
        tuple(feature_names), int(num_classes)))
    return ens.predict, ens, None


def fit_tfdf_npz(kind: str, params: dict, x: np.ndarray, y: np.ndarray, x_val: np.ndarray,
                 y_val: np.ndarray, feature_names: Sequence[str], num_classes: int) -> bytes:
    """The in-process TF-DF fit of `_fit_tfdf`; returns its TreeEnsemble as npz bytes.

    kind: one of TFDF_KINDS; params: `config[kind]` as a dict plus "seed"; x: float32[n,F],
    y: int64[n] (training rows); x_val, y_val: the validation rows (GBT early stopping only).
    Imports TF-DF: meant to run in the fit worker.
    """
    import tensorflow as tf  # noqa: PLC0415 (fit worker only)
    import tensorflow_decision_forests as tfdf  # noqa: PLC0415 (heavy, fit worker only)

    if kind not in TFDF_KINDS:
        raise ValueError(f"kind must be one of {list(TFDF_KINDS)}; got {kind!r}")

    def dataset(xs: np.ndarray, ys: np.ndarray) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensor_slices((xs.astype(np.float32), ys)).batch(1024)

    common = {"num_trees": params["num_trees"], "max_depth": params["max_depth"] + 1,
              "min_examples": params["min_examples"], "random_seed": params["seed"],
              "verbose": 0}
    fit_kwargs = {}
    if kind == "centralised_rf":
        model = tfdf.keras.RandomForestModel(winner_take_all=params["winner_take_all"],
                                             compute_oob_performances=False, **common)
    else:
        model = tfdf.keras.GradientBoostedTreesModel(
            shrinkage=params["shrinkage"], validation_ratio=0.0, early_stopping="LOSS_INCREASE",
            **common)
        fit_kwargs["validation_data"] = dataset(x_val, y_val)
    model.fit(dataset(x, y), verbose=0, **fit_kwargs)
    return ensemble_to_npz(from_tfdf(model, feature_names=feature_names,
                                     num_classes=num_classes))


# name -> fit(clients, config, feature_names, num_classes); one entry per name of MODELS.
FITTERS: dict[str, Callable[..., Fitted]] = {
    "federated_rf": _fit_federated_rf,
    "federated_gbt": _fit_federated_gbt,
    "centralised_rf": functools.partial(_fit_tfdf, "centralised_rf"),
    "centralised_gbt": functools.partial(_fit_tfdf, "centralised_gbt"),
    "centralised_hist_gbt": _fit_centralised_hist_gbt,
    "sklearn_rf": _fit_sklearn_rf,
}


def fit_model(
    name: str, clients: Sequence[ClientDataset], config: ml_collections.ConfigDict,
    feature_names: Sequence[str], num_classes: int,
) -> Fitted:
    """Trains model `name` on `clients`; returns (predict: float32[n,F] -> int64[n], ensemble
    (tree models), federated stats (federated models))."""
    if name not in FITTERS:
        raise ValueError(f"name must be one of {list(MODELS)}; got {name!r}")
    return FITTERS[name](clients, config, feature_names, num_classes)


def timed_fit(name: str, clients: Sequence[ClientDataset], x_test: np.ndarray,
               config: ml_collections.ConfigDict, feature_names: Sequence[str],
               num_classes: int) -> FitResult:
    """`fit_model`, timed, with its predictions `int64[n]` on `x_test: float32[n,F]`."""
    started = time.perf_counter()
    predict, ens, stats = fit_model(name, clients, config, feature_names, num_classes)
    seconds = time.perf_counter() - started
    return FitResult(np.asarray(predict(x_test), np.int64), seconds, ens, stats)
