"""Federated histogram gradient-boosted trees on TFF (`train_federated_hist_gbt`).

Every client keeps its rows, their bins, raw scores and node assignments; only sums travel, each
through one TFF computation that aggregates CLIENTS-placed values with an unweighted aggregation
factory (`tff.aggregators.SumFactory()` by default, i.e. `tff.federated_sum`; a secure-sum
factory can be passed unchanged because every per-level value is an integer sum):

1. Bins agreed up front (`federated_bin_edges`): a `federated_sum` of per-feature (count, sum,
   sum of squares) fixes shared coordinates u = asinh((x - mean) / std); then rounds of
   `federated_sum`s of the clients' counts in 64 sub-cells of the interval holding each target
   rank j·m/num_bins narrow every interval 64-fold per round until it holds at most 1/16 of a
   bin's share of the values, and the thresholds are the intervals' ends
   (`forests.histogram_boosting.sketch_edges`; the server learns only pooled counts).
2. Label counts (`federated_sum`) -> the bias (log class priors).
3. Per boosting iteration and tree level, ONE call: each client's int64 gradient/hessian/count
   histograms [K, nodes, F, num_bins+1, 3] of all K trees at once (the roots, then the left child
   of every split node; right children are parent - left on the server), summed; the server
   picks every node's split with the shared numpy code
   (`forests.histogram_boosting.find_splits`) and sends the splits (the clients route their rows
   themselves); after the last level it sends the leaf values.
4. Per iteration, one `federated_sum` of the clients' validation (log-loss, correct, rows):
   early stopping and the number of trees come from the clients' validation splits only.

Gradients are fixed-point integers, so with the same bin edges the trees are exactly those of
`forests.histogram_boosting.fit_histogram_gbt` on the union of the clients' rows (tested).
The server-to-client messages (bias, splits, leaf values) are passed to the clients' numpy step
directly, like the on-device steps of `federated_forest`; their bytes are counted as downlink.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from forests.ensemble import TreeEnsemble
from forests.histogram_boosting import (
    BinEdges,
    BoostingClient,
    HistGBTConfig,
    HistogramSource,
    LevelSplits,
    boost,
    sketch_edges,
)
from tff_train.physio.federated_forest import (
    FederatedStats,
    _feature_names,
    validate_client_datasets,
)
from tff_train.physio.tasks import ClientDataset
from tff_train.runtime.tff_runtime import import_tff


def default_factory() -> object:
    """`tff.aggregators.SumFactory()`: plain `tff.federated_sum`."""
    return import_tff().aggregators.SumFactory()


def build_federated_sum(dtype: type, shape: Sequence[int], factory: object | None = None
                        ) -> Callable[[list[np.ndarray]], np.ndarray]:
    """A `tff.federated_computation`: dtype[shape] @CLIENTS -> their aggregate @SERVER.

    The aggregate is `factory.create(value_type).next(initialize(), values).result`, so any
    unweighted factory (default `SumFactory`, or e.g. a secure-sum factory) applies unchanged.
    """
    tff = import_tff()
    factory = default_factory() if factory is None else factory
    if not isinstance(factory, tff.aggregators.UnweightedAggregationFactory):
        raise ValueError(f"factory must be a tff.aggregators.UnweightedAggregationFactory; got "
                         f"{type(factory).__name__}")
    value_type = tff.TensorType(dtype, list(shape))
    process = factory.create(value_type)

    @tff.federated_computation(tff.FederatedType(value_type, tff.CLIENTS))
    def federated_sum(values: object) -> object:
        return process.next(process.initialize(), values).result

    return federated_sum


@functools.lru_cache(maxsize=64)
def _default_sum(dtype: str, shape: tuple[int, ...]) -> Callable:
    """`build_federated_sum` with the default factory, built once per value type and process."""
    return build_federated_sum(np.dtype(dtype).type, shape)


class FederatedChannel:
    """The TFF link between the server and `num_clients` clients: every aggregate is one TFF
    call; counts the bytes each client sends (uplink) and receives (downlink) and the calls."""

    def __init__(self, num_clients: int, factory: object | None = None) -> None:
        if isinstance(num_clients, bool) or not isinstance(num_clients, int) or num_clients < 1:
            raise ValueError(f"num_clients must be an int >= 1; got {num_clients!r}")
        self._default = factory is None
        self.factory = default_factory() if factory is None else factory
        self.uplink = [0] * num_clients
        self.downlink = [0] * num_clients
        self.calls = 0
        self._sums: dict[tuple, Callable] = {}

    def federated_sum(self, values: Sequence[np.ndarray]) -> np.ndarray:
        """Aggregates one array per client (same dtype and shape) with one TFF call."""
        if len(values) != len(self.uplink):
            raise ValueError(f"values must hold one array per client ({len(self.uplink)}); got "
                             f"{len(values)}")
        key = (values[0].dtype.str, values[0].shape)
        if key not in self._sums:  # one computation per value type, built once
            self._sums[key] = (
                _default_sum(*key) if self._default
                else build_federated_sum(values[0].dtype.type, values[0].shape, self.factory))
        for c, v in enumerate(values):
            self.uplink[c] += int(v.nbytes)
        self.calls += 1
        return np.asarray(self._sums[key](list(values)))

    def broadcast(self, nbytes: int) -> None:
        """Counts a server message of `nbytes` to every client."""
        for c in range(len(self.downlink)):
            self.downlink[c] += int(nbytes)


class FederatedSource(HistogramSource):
    """The boosting server's sums over federated `clients` through `channel`."""

    def __init__(self, clients: Sequence[BoostingClient], channel: FederatedChannel) -> None:
        if not clients or not all(isinstance(c, BoostingClient) for c in clients):
            raise ValueError("clients must be a non-empty sequence of BoostingClient")
        if not isinstance(channel, FederatedChannel) or len(channel.uplink) != len(clients):
            raise ValueError(f"channel must be a FederatedChannel for {len(clients)} clients; "
                             f"got {type(channel).__name__}")
        self.clients, self.channel = list(clients), channel

    def label_counts(self) -> np.ndarray:
        return self.channel.federated_sum([c.label_counts() for c in self.clients])

    def set_bias(self, bias: np.ndarray) -> None:
        self.channel.broadcast(np.asarray(bias, np.float32).nbytes)
        for c in self.clients:
            c.set_bias(bias)

    def start_iteration(self) -> None:
        for c in self.clients:
            c.start_iteration()

    def histograms(self, level: int, active: np.ndarray) -> np.ndarray:
        return self.channel.federated_sum([c.histograms(level, active) for c in self.clients])

    def apply_splits(self, level: int, splits: LevelSplits) -> None:
        self.channel.broadcast(splits.wire_nbytes())
        for c in self.clients:
            c.apply_splits(level, splits)

    def finish_iteration(self, values: np.ndarray) -> None:
        self.channel.broadcast(values.nbytes)
        for c in self.clients:
            c.finish_iteration(values)

    def validation_stats(self) -> np.ndarray | None:
        stats = self.channel.federated_sum([c.validation_stats() for c in self.clients])
        return stats if stats[2] > 0 else None


def federated_bin_edges(channel: FederatedChannel, x_train: Sequence[np.ndarray],
                        num_bins: int) -> BinEdges:
    """Bin edges from the clients' summed quantile sketch (`forests.histogram_boosting.
    sketch_edges` with `channel.federated_sum`: 1 + 1..SKETCH_MAX_ROUNDS federated sums).
    x_train: one float32[n_c,F] per client of `channel`."""
    calls = channel.calls
    edges = sketch_edges(x_train, num_bins, channel.federated_sum)
    rounds = channel.calls - calls - 1
    f, j = edges.num_features, num_bins - 1
    # Server -> clients: the coordinates (mean, std), each round's intervals, the thresholds.
    channel.broadcast(2 * f * 8 + rounds * (f * j * 8 + 8) + edges.padded().nbytes)
    return edges


def train_federated_hist_gbt(
    client_datasets: Sequence[ClientDataset],
    config: HistGBTConfig,
    feature_names: Sequence[str] | None = None,
    *,
    edges: BinEdges | None = None,
    aggregation_factory: object | None = None,
) -> tuple[TreeEnsemble, FederatedStats]:
    """Federated histogram GBT; returns the server's 'gbt' TreeEnsemble and what was sent.

    client_datasets: per client (x_train float32[n,F], y_train int[n], x_val, y_val); the
    validation splits choose the number of trees (early stopping on summed validation log-loss).
    edges: bins agreed beforehand (tests); None = the federated quantile sketch.
    aggregation_factory: an unweighted `tff.aggregators` factory (default `SumFactory()`).
    """
    if not isinstance(config, HistGBTConfig):
        raise ValueError(f"config must be a HistGBTConfig; got {type(config).__name__}")
    width = validate_client_datasets(client_datasets, config.num_classes)
    names = _feature_names(feature_names, width)
    data = [ClientDataset(*c) for c in client_datasets]
    channel = FederatedChannel(len(data), aggregation_factory)
    if edges is None:
        edges = federated_bin_edges(channel, [np.asarray(d.x_train, np.float32) for d in data],
                                    config.num_bins)
    elif (not isinstance(edges, BinEdges) or edges.num_features != width
          or edges.num_bins != config.num_bins):
        raise ValueError(f"edges must be a BinEdges with {width} features (the clients') and "
                         f"num_bins={config.num_bins} (config.num_bins); got "
                         f"{type(edges).__name__}")
    clients = [BoostingClient(d.x_train, d.y_train, edges, config.num_classes, d.x_val, d.y_val)
               for d in data]
    source = FederatedSource(clients, channel)
    result = boost(source, edges, config, names)
    stats = FederatedStats(
        uplink_bytes_per_client=list(channel.uplink),
        downlink_bytes_per_client=list(channel.downlink),
        uplink_type="int64 histograms [K, max(1, 2**(level-1)), F, num_bins+1, 3] per level "
                    "@CLIENTS "
                    f"(num_bins={config.num_bins}, K={config.num_outputs}), summed by "
                    f"{type(channel.factory).__name__}",
        rounds=channel.calls, num_trees=result.ensemble.num_trees, history=result.history)
    return result.ensemble, stats
