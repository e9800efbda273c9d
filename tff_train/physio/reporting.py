"""The physio experiment's reports: metrics.csv rows per fold and model, and the pooled
held-out results per model in results.json."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tff_train.learning.classification_metrics import summarize
from tff_train.physio.federated_forest import FederatedStats
from tff_train.physio.models import FitResult
from tff_train.physio.tasks import PhysioTask


def bytes_summary(stats: Sequence[FederatedStats]) -> dict:
    """Uplink/downlink bytes per client (mean, max), rounds and trees of federated fits."""
    up = [b for s in stats for b in s.uplink_bytes_per_client]
    down = [b for s in stats for b in s.downlink_bytes_per_client]
    return {"uplink_bytes_per_client_mean": float(np.mean(up)),
            "uplink_bytes_per_client_max": int(np.max(up)),
            "downlink_bytes_per_client_mean": float(np.mean(down)),
            "downlink_bytes_per_client_max": int(np.max(down)),
            "rounds": int(stats[0].rounds),
            "num_trees_mean": float(np.mean([s.num_trees for s in stats]))}


def model_results(task: PhysioTask, held_out: np.ndarray, rows: Sequence[dict], model: str,
                  seconds: Sequence[float], stats: Sequence[FederatedStats]) -> dict:
    """Pooled held-out metrics of `model` (`held_out: int64[N]`, -1 = never held out), per fold
    and per group, training time and (federated models) the traffic per client."""
    evaluated = held_out >= 0
    y, p = task.labels[evaluated], held_out[evaluated]
    summary = summarize(y, p, list(task.label_space.labels))
    groups = task.groups[evaluated]
    per_group = {str(g): float(np.mean(p[groups == g] == y[groups == g]))
                 for g in np.unique(groups)}
    fold_acc = [r["accuracy"] for r in rows if r["model"] == model]
    entry = {**summary, "fold_accuracy": fold_acc,
             "fold_accuracy_mean": float(np.mean(fold_acc)),
             "fold_accuracy_std": float(np.std(fold_acc)),
             "group_accuracy": per_group,
             "worst_group_accuracy": float(min(per_group.values())),
             "train_seconds_total": float(np.sum(seconds)),
             "train_seconds_per_fold_mean": float(np.mean(seconds))}
    if stats:
        entry.update(bytes_summary(stats))
    return entry


def fold_row(fold: int, model: str, test_groups: Sequence[str], labels: np.ndarray,
             fit: FitResult, class_names: Sequence[str]) -> dict:
    """The metrics.csv row of one fold and model."""
    summary = summarize(labels, fit.predictions, list(class_names))
    row = {"fold": fold, "model": model, "test_groups": " ".join(test_groups),
           "accuracy": summary["accuracy"], "macro_f1": summary["macro_f1"],
           "train_seconds": fit.seconds, "num_test": int(len(labels)),
           "num_trees": fit.ensemble.num_trees if fit.ensemble is not None else None}
    if fit.stats is not None:
        row["uplink_bytes_per_client_mean"] = float(np.mean(fit.stats.uplink_bytes_per_client))
        row["downlink_bytes_per_client_mean"] = float(np.mean(
            fit.stats.downlink_bytes_per_client))
    return row
