"""Federated client partitions as index arrays into a dataset (never copies of the data).

- `dirichlet_partition`: label-skewed (non-IID) clients for faces. For every class, the
  class's examples are shared among the K clients in proportions drawn from Dirichlet(alpha);
  small alpha gives strongly skewed clients, large alpha near-IID ones. Clients left with
  fewer than `min_client_size` examples are then topped up with examples moved from the
  currently largest client, so every client is non-empty.
- `group_partition`: one client per distinct id (subject for WESAD, drive for drivedb).
Each client's examples are split into local train/validation index sets, deterministically
from `seed`; the split rng is independent of the partition rng, so changing `val_fraction`
does not change which examples a client holds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class ClientPartition:
    """One client: `train_indices: int64[n_train]`, `val_indices: int64[n_val]` (sorted)."""

    client_id: str
    train_indices: np.ndarray
    val_indices: np.ndarray

    @property
    def indices(self) -> np.ndarray:
        """All of the client's indices, `int64[n]`, sorted."""
        return np.sort(np.concatenate([self.train_indices, self.val_indices]))

    def __len__(self) -> int:
        return len(self.train_indices) + len(self.val_indices)


def dirichlet_partition(
    labels: np.ndarray,
    num_clients: int,
    *,
    alpha: float = 0.5,
    val_fraction: float = 0.1,
    seed: int = 0,
    min_client_size: int = 1,
) -> list[ClientPartition]:
    """Split examples with `labels: int[N]` into `num_clients` Dirichlet(alpha) label-skewed
    clients, each with a local train/validation split (`val_fraction` of its examples).

    Client ids are '0' ... 'K-1'. Deterministic for a given `seed`.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be int[N]; got {labels.dtype}{list(labels.shape)}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be >= 0; got minimum {labels.min()}")
    n = len(labels)
    if not isinstance(num_clients, int | np.integer) or not 1 <= num_clients <= n:
        raise ValueError(f"num_clients must be an integer in [1, N={n}]; got {num_clients!r}")
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0; got {alpha}")
    if min_client_size < 1 or min_client_size * num_clients > n:
        raise ValueError(
            f"min_client_size must be >= 1 with min_client_size * num_clients <= N={n}; "
            f"got {min_client_size} * {num_clients}"
        )
    _check_val_fraction(val_fraction)
    partition_seed, split_seed = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(partition_seed)

    members: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        proportions = rng.dirichlet(np.full(num_clients, alpha))
        cuts = (np.cumsum(proportions)[:-1] * len(idx)).astype(np.int64)
        for k, part in enumerate(np.split(idx, cuts)):
            members[k].append(part)
    clients = [np.concatenate(m).astype(np.int64) for m in members]
    _top_up(clients, min_client_size, rng)
    return _with_local_splits(
        [str(k) for k in range(num_clients)], clients, val_fraction, split_seed, False
    )


def _top_up(clients: list[np.ndarray], min_size: int, rng: np.random.Generator) -> None:
    """Move random examples from the largest client to clients below `min_size`, in place."""
    for k in range(len(clients)):
        while len(clients[k]) < min_size:
            donor = int(np.argmax([len(c) for c in clients]))
            pick = int(rng.integers(len(clients[donor])))
            clients[k] = np.append(clients[k], clients[donor][pick])
            clients[donor] = np.delete(clients[donor], pick)


def group_partition(
    ids: np.ndarray | Sequence[object],
    *,
    val_fraction: float = 0.0,
    seed: int = 0,
    contiguous_val: bool = False,
) -> list[ClientPartition]:
    """One client per distinct value of `ids: [N]` (e.g. WESAD subject ids, drive names).

    Clients are ordered by sorted id; `client_id` is `str(id)`. `contiguous_val=True` takes
    the last `val_fraction` of each client's rows (in dataset order) as validation, which
    avoids leakage between neighbouring, overlapping time windows; otherwise a random subset.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) == 0:
        raise ValueError(f"ids must be a non-empty 1-D array; got shape {list(ids.shape)}")
    _check_val_fraction(val_fraction)
    uniques, inverse = np.unique(ids, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    groups = np.split(order.astype(np.int64), np.cumsum(np.bincount(inverse))[:-1])
    return _with_local_splits(
        [str(u) for u in uniques],
        groups,
        val_fraction,
        np.random.SeedSequence(seed),
        contiguous_val,
    )


def _check_val_fraction(val_fraction: float) -> None:
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1); got {val_fraction}")


def _with_local_splits(
    client_ids: list[str],
    groups: list[np.ndarray],
    val_fraction: float,
    seed: np.random.SeedSequence,
    contiguous: bool,
) -> list[ClientPartition]:
    rng = np.random.default_rng(seed)
    out = []
    for client_id, idx in zip(client_ids, groups, strict=True):
        # At least one training example; validation rounds to the nearest count.
        n_val = min(int(round(val_fraction * len(idx))), len(idx) - 1)
        ordered = np.sort(idx) if contiguous else rng.permutation(idx)
        cut = len(idx) - n_val
        out.append(
            ClientPartition(
                client_id=client_id,
                train_indices=np.sort(ordered[:cut]),
                val_indices=np.sort(ordered[cut:]),
            )
        )
    return out
