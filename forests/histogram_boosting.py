"""Histogram gradient-boosted trees (numpy): bins, gradient histograms, split finding, boosting.

The pieces a federated histogram GBT needs, shared by the centralised fit (`fit_histogram_gbt`)
and the TFF trainer (`tff_train.physio.histogram_boosting`), so that both grow the same trees:

- Bins: `BinEdges` holds per-feature float32 thresholds t_0 < t_1 < ... (at most num_bins - 1).
  `bin_features` maps x to bin b = #{j: t_j <= x} (compared in float32), NaN to the missing bin
  `num_bins`. A split "bin > j" is then exactly `TreeEnsemble`'s "x >= threshold" with threshold
  t_j, so the trees route raw features like the binned training rows. `quantile_edges`: exact
  quantiles of pooled rows; `sketch_edges`: the summable quantile sketch of the federated
  trainer (pooled moments, then rounds of sub-cell counts around each target rank).
- Gradients in fixed point: softmax (K = num_classes logits) or sigmoid (K = 1, binary) log-loss
  gradients g and hessians h = p(1-p) are rounded to multiples of 2**-GRAD_FRACTION_BITS and
  summed as integers, so a sum over clients equals the sum over their union bit for bit whatever
  the order (and integer sums are what secure aggregation adds).
- Histograms `int64[K, nodes, F, num_bins + 1, 3]` (channels: gradient, hessian, row count) of
  the rows at each node of one tree level, for the K trees of a boosting iteration at once.
  Below the root only the left children's are sent; the server gets each right child as its
  parent's minus its sibling's (exact in integers), which halves the histogram traffic.
- Split finding (`find_splits`) from summed histograms: gain = GL²/(HL+λ) + GR²/(HR+λ) - G²/(H+λ)
  over every (feature, threshold, missing direction) with at least `min_examples` rows and
  `min_child_hessian` hessian per side; ties go to the lowest feature, then the lowest threshold,
  then missing-left; a node whose training rows have no missing value of the chosen feature sends
  missing values to its child with more rows (left on a tie). Leaves: Newton step
  -factor · G / (H + λ) · learning_rate, factor (K-1)/K for softmax (Friedman), 1 for binary.
- `boost`: the server's loop (bias from label counts, level-by-level growth of K trees per
  iteration, early stopping on validation log-loss) against a `HistogramSource` that supplies
  summed statistics; `LocalSource` is the centralised one (one party holding all rows).

Trees are laid out in heap order (children of node i at 2i+1, 2i+2; 2**(max_depth+1) - 1
nodes, unused slots are unreachable leaves) and returned as a `TreeEnsemble(kind="gbt")` whose
`decision_function` is bias + the sum of the reached leaves per logit (tree t adds to logit
t mod K).
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from forests.ensemble import TreeEnsemble, max_nodes_for_depth

GRAD_FRACTION_BITS = 24  # fixed-point resolution of gradients/hessians: 2**-24 ≈ 6e-8
_SCALE = float(2**GRAD_FRACTION_BITS)
_MAX_ROWS = 2**52 // 2**GRAD_FRACTION_BITS  # float64 bincount of fixed-point values stays exact
CHANNELS = ("gradient", "hessian", "count")
SKETCH_RANGE = 1000.0  # the quantile sketch covers |x - mean| <= SKETCH_RANGE · std
SKETCH_SUBCELLS = 64  # sub-cells per target interval and round of the quantile sketch
SKETCH_MAX_ROUNDS = 8  # rounds stop earlier once every target's interval holds few values
SKETCH_RANK_TOLERANCE = 1 / 16  # ... at most this fraction of a bin's share (or 1 value)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        want = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise ValueError(f"{name} must be {want}; got {value!r}")
    return int(value)


def _check_float(name: str, value: object, low: float, high: float, low_open: bool) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if not ok or not (v > low if low_open else v >= low) or not v <= high:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a number in {bracket}{low}, {high}]; got {value!r}")
    return v


def _check_x(name: str, x: object, num_features: int | None = None) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"{name} must be a float array of shape [n, F]; got "
                         f"{arr.dtype}{list(arr.shape)}")
    if num_features is not None and arr.shape[1] != num_features:
        raise ValueError(f"{name} must have {num_features} features (columns); got "
                         f"{arr.shape[1]}")
    return arr.astype(np.float32, copy=False)


def _check_y(name: str, y: object, n: int, num_classes: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be an int array of shape [{n}]; got "
                         f"{arr.dtype}{list(arr.shape)}")
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        raise ValueError(f"{name} labels must be in [0, {num_classes}); got "
                         f"[{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)


# --------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class HistGBTConfig:
    """Histogram GBT settings; max_depth = splits on a root-to-leaf path, num_trees = boosting
    iterations (K trees each), early_stopping_rounds = 0 turns early stopping off."""

    num_classes: int
    num_trees: int = 100
    max_depth: int = 4
    learning_rate: float = 0.1
    l2_regularization: float = 1.0
    min_examples: int = 5
    min_child_hessian: float = 1e-3
    num_bins: int = 64
    early_stopping_rounds: int = 10

    def __post_init__(self) -> None:
        _check_int("num_classes", self.num_classes, 2)
        _check_int("num_trees", self.num_trees, 1)
        _check_int("max_depth", self.max_depth, 1, 16)
        _check_float("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        _check_float("l2_regularization", self.l2_regularization, 0.0, 1e6, low_open=False)
        _check_int("min_examples", self.min_examples, 1)
        _check_float("min_child_hessian", self.min_child_hessian, 0.0, 1e6, low_open=False)
        _check_int("num_bins", self.num_bins, 2, 65535)
        _check_int("early_stopping_rounds", self.early_stopping_rounds, 0)

    @property
    def num_outputs(self) -> int:
        """K: 1 logit for binary, num_classes otherwise."""
        return 1 if self.num_classes == 2 else self.num_classes

    @property
    def max_nodes(self) -> int:
        """Nodes per tree in heap layout: 2**(max_depth+1) - 1."""
        return max_nodes_for_depth(self.max_depth)


# --------------------------------------------------------------------------- bins
@dataclasses.dataclass(frozen=True, eq=False)
class BinEdges:
    """Per-feature float32 split thresholds (strictly increasing, finite, <= num_bins - 1 each);
    bin `num_bins` of every feature is the missing (NaN) bin."""

    thresholds: tuple[np.ndarray, ...]
    num_bins: int

    def __post_init__(self) -> None:
        _check_int("num_bins", self.num_bins, 2, 65535)
        if isinstance(self.thresholds, np.ndarray) or not isinstance(self.thresholds, Sequence):
            raise ValueError(f"thresholds must be a sequence of 1-D float32 arrays (one per "
                             f"feature); got {type(self.thresholds).__name__}")
        if not self.thresholds:
            raise ValueError("thresholds must hold one array per feature; got 0 features")
        out = []
        for f, t in enumerate(self.thresholds):
            arr = np.asarray(t)
            if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.floating)):
                raise ValueError(f"thresholds[{f}] must be a 1-D float array; got "
                                 f"{arr.dtype}{list(arr.shape)}")
            arr = arr.astype(np.float32)
            if arr.size > self.num_bins - 1:
                raise ValueError(f"thresholds[{f}] must hold <= num_bins - 1 = "
                                 f"{self.num_bins - 1} values; got {arr.size}")
            if not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
                raise ValueError(f"thresholds[{f}] must be finite and strictly increasing; got "
                                 f"{arr.tolist()[:8]}")
            out.append(arr)
        object.__setattr__(self, "thresholds", tuple(out))
        object.__setattr__(self, "num_bins", int(self.num_bins))

    @property
    def num_features(self) -> int:
        """F."""
        return len(self.thresholds)

    @property
    def missing_bin(self) -> int:
        """Index of the NaN bin (= num_bins)."""
        return self.num_bins

    @property
    def width(self) -> int:
        """Bins per feature in a histogram: num_bins + 1 (the last is the missing bin)."""
        return self.num_bins + 1

    @property
    def counts(self) -> np.ndarray:
        """int32[F]: thresholds of each feature (valid split indices are 0 .. counts-1)."""
        return np.array([t.size for t in self.thresholds], np.int32)

    def padded(self) -> np.ndarray:
        """float32[F, num_bins-1]: the thresholds, +inf past each feature's count (wire form)."""
        out = np.full((self.num_features, self.num_bins - 1), np.inf, np.float32)
        for f, t in enumerate(self.thresholds):
            out[f, : t.size] = t
        return out


def bin_dtype(num_bins: int) -> type:
    """uint8 when bins and the missing bin fit in a byte (num_bins <= 255), else uint16."""
    return np.uint8 if num_bins <= 255 else np.uint16


def bin_features(x: np.ndarray, edges: BinEdges) -> np.ndarray:
    """Bin of every value: x float[n,F] -> uint8/uint16[n,F], #{j: t_j <= x} in float32, NaN ->
    `edges.missing_bin`."""
    if not isinstance(edges, BinEdges):
        raise ValueError(f"edges must be a BinEdges; got {type(edges).__name__}")
    x = _check_x("x", x, edges.num_features)
    out = np.empty(x.shape, bin_dtype(edges.num_bins))
    for f, t in enumerate(edges.thresholds):
        col = x[:, f]
        b = np.searchsorted(t, col, side="right")
        out[:, f] = np.where(np.isnan(col), edges.missing_bin, b)
    return out


def quantile_edges(x: np.ndarray, num_bins: int) -> BinEdges:
    """Exact quantile thresholds of pooled rows: x float[n,F] -> BinEdges.

    Threshold j of a feature is its non-NaN value of rank floor(j·m/num_bins), j = 1 ..
    num_bins-1 (m values), deduplicated; a threshold equal to the minimum is dropped (it would
    send every row right).
    """
    _check_int("num_bins", num_bins, 2, 65535)
    x = _check_x("x", x)
    out = []
    for f in range(x.shape[1]):
        v = np.sort(x[:, f][~np.isnan(x[:, f])])
        if v.size == 0:
            out.append(np.zeros(0, np.float32))
            continue
        ranks = (np.arange(1, num_bins) * v.size) // num_bins
        t = np.unique(v[ranks])
        out.append(t[t > v[0]])
    return BinEdges(tuple(out), num_bins)


# ----------------------------------------------------------------- federated quantile sketch
@dataclasses.dataclass(frozen=True, eq=False)
class SketchGrid:
    """The agreed coordinates of the sketch: u = asinh((x - mean) / scale) per feature, clipped
    to |u| <= asinh(SKETCH_RANGE); `count` = the pooled non-NaN values. `scale` 0 = a feature
    with fewer than two values or no spread (no thresholds)."""

    mean: np.ndarray  # float64[F]
    scale: np.ndarray  # float64[F]
    count: np.ndarray  # int64[F]

    @property
    def num_features(self) -> int:
        """F."""
        return int(self.mean.shape[0])

    def to_u(self, x: np.ndarray) -> np.ndarray:
        """float[n,F] -> float64[n,F] sketch coordinates (NaN stays NaN)."""
        span = math.asinh(SKETCH_RANGE)
        scale = np.where(self.scale > 0, self.scale, 1.0)
        u = np.arcsinh((np.asarray(x, np.float64) - self.mean) / scale)
        return np.clip(u, -span, np.nextafter(span, -np.inf))

    def to_x(self, u: np.ndarray) -> np.ndarray:
        """float64[F,...] sketch coordinates -> raw feature values."""
        shape = (-1,) + (1,) * (np.ndim(u) - 1)
        return self.mean.reshape(shape) + self.scale.reshape(shape) * np.sinh(u)


@dataclasses.dataclass(frozen=True, eq=False)
class QuantileSearch:
    """Where each target rank j·m/num_bins (j = 1 .. num_bins-1) of each feature lies: in
    [lo, lo + width) of u, with `below` pooled values under lo; `upto` = values under the end
    of the interval (known after the first round)."""

    lo: np.ndarray  # float64[F, J]
    width: float
    below: np.ndarray  # int64[F, J]
    upto: np.ndarray  # int64[F, J]
    targets: np.ndarray  # float64[F, J]
    num_bins: int

    def wire_nbytes(self) -> int:
        """Bytes the server sends the clients per round (the intervals' starts and the width)."""
        return int(self.lo.nbytes + 8)


def sketch_moments(x: np.ndarray) -> np.ndarray:
    """Per-feature (count, sum, sum of squares) of the non-NaN values: float[n,F] ->
    float64[F,3]; summed over clients they give the pooled count, mean and std."""
    x = _check_x("x", x).astype(np.float64)
    ok = ~np.isnan(x)
    v = np.where(ok, x, 0.0)
    return np.stack([ok.sum(axis=0), v.sum(axis=0), (v * v).sum(axis=0)], axis=1)


def sketch_grid(moments: np.ndarray) -> SketchGrid:
    """The sketch coordinates of summed `sketch_moments` float64[F,3] (scale = pooled std)."""
    m = np.asarray(moments, np.float64)
    if m.ndim != 2 or m.shape[1] != 3 or not np.all(np.isfinite(m)) or np.any(m[:, 0] < 0):
        raise ValueError(f"moments must be finite float[F,3] (count >= 0, sum, sum of squares); "
                         f"got shape {list(m.shape)}")
    n = np.maximum(m[:, 0], 1.0)
    mean = m[:, 1] / n
    var = np.maximum(m[:, 2] / n - mean**2, 0.0)
    scale = np.where(m[:, 0] >= 2, np.sqrt(var), 0.0)
    return SketchGrid(mean=mean, scale=scale, count=np.rint(m[:, 0]).astype(np.int64))


def start_quantile_search(grid: SketchGrid, num_bins: int) -> QuantileSearch:
    """Round 0 of the search: every target anywhere in the clipped u range."""
    _check_int("num_bins", num_bins, 2, 65535)
    span = math.asinh(SKETCH_RANGE)
    f, j = grid.num_features, num_bins - 1
    targets = np.arange(1, num_bins)[None, :] * grid.count[:, None] / num_bins
    zeros = np.zeros((f, j), np.int64)
    return QuantileSearch(lo=np.full((f, j), -span), width=2 * span, below=zeros,
                          upto=np.broadcast_to(grid.count[:, None], (f, j)).copy(),
                          targets=targets.astype(np.float64), num_bins=num_bins)


def sketch_counts(x: np.ndarray, grid: SketchGrid, search: QuantileSearch) -> np.ndarray:
    """One client's counts of values per sub-cell of every target's interval: float[n,F] ->
    int64[F, num_bins-1, SKETCH_SUBCELLS] (summable)."""
    if not isinstance(grid, SketchGrid) or not isinstance(search, QuantileSearch):
        raise ValueError(f"grid and search must be a SketchGrid and a QuantileSearch; got "
                         f"{type(grid).__name__}, {type(search).__name__}")
    u = grid.to_u(_check_x("x", x, grid.num_features))
    f, j = search.lo.shape
    out = np.zeros((f, j, SKETCH_SUBCELLS), np.int64)
    step = search.width / SKETCH_SUBCELLS
    for c in range(f):
        col = u[:, c][~np.isnan(u[:, c])]
        if grid.scale[c] <= 0 or col.size == 0:
            continue
        idx = np.floor((col[:, None] - search.lo[c][None, :]) / step)
        ok = (idx >= 0) & (idx < SKETCH_SUBCELLS)
        flat = (np.nonzero(ok)[1] * SKETCH_SUBCELLS + idx[ok]).astype(np.int64)
        out[c] = np.bincount(flat, minlength=j * SKETCH_SUBCELLS).reshape(j, SKETCH_SUBCELLS)
    return out


def refine_search(search: QuantileSearch, counts: np.ndarray) -> QuantileSearch:
    """Narrows every interval to the sub-cell holding its target (summed `sketch_counts`)."""
    c = np.asarray(counts)
    if c.shape != (*search.lo.shape, SKETCH_SUBCELLS) or not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"counts must be int[{search.lo.shape[0]}, {search.lo.shape[1]}, "
                         f"{SKETCH_SUBCELLS}]; got {c.dtype}{list(c.shape)}")
    cum = search.below[..., None] + np.cumsum(c, axis=2)
    reached = cum >= search.targets[..., None]
    cell = np.where(reached.any(axis=2), reached.argmax(axis=2), SKETCH_SUBCELLS - 1)
    step = search.width / SKETCH_SUBCELLS
    upto = np.take_along_axis(cum, cell[..., None], axis=2)[..., 0]
    below = upto - np.take_along_axis(c, cell[..., None], axis=2)[..., 0]
    return dataclasses.replace(search, lo=search.lo + cell * step, width=step, below=below,
                               upto=upto)


def search_edges(search: QuantileSearch, grid: SketchGrid) -> BinEdges:
    """Thresholds at the end of each target's interval, rounded up to float32 (the interval's
    values go left); thresholds with no pooled value on one side are dropped."""
    x = grid.to_x(search.lo + search.width)
    out = []
    for f in range(grid.num_features):
        keep = (search.upto[f] > 0) & (search.upto[f] < grid.count[f]) & (grid.scale[f] > 0)
        end = x[f][keep]
        t = end.astype(np.float32)
        t = np.where(t < end, np.nextafter(t, np.float32(np.inf)), t)  # never below the end
        t = np.unique(t)
        out.append(t[np.isfinite(t)])
    return BinEdges(tuple(out), search.num_bins)


def sketch_edges(parts: Sequence[np.ndarray], num_bins: int,
                 total: Callable[[list[np.ndarray]], np.ndarray] | None = None) -> BinEdges:
    """Bin edges from a summable quantile sketch of the rows of `parts` (float[n_c,F] each).

    `total` adds one array per part (default: numpy sum; the federated trainer passes a
    `tff.federated_sum`). Calls: one for the moments (pooled count, mean, std of each feature:
    the coordinates u = asinh((x - mean) / std)), then rounds of counts of values in
    SKETCH_SUBCELLS sub-cells of the interval holding each target rank j·m/num_bins, each round
    narrowing the interval to the sub-cell that holds the target, until every interval holds at
    most max(1, SKETCH_RANK_TOLERANCE·m/num_bins) values or is narrower than 1e-6 relative (a
    repeated value), or after SKETCH_MAX_ROUNDS rounds. The
    thresholds are the intervals' ends, so each is off the pooled quantile by at most the
    values left in its interval. Only pooled counts reach the server.
    """
    if not parts:
        raise ValueError("parts must be a non-empty sequence of float[n,F] arrays")
    add = total or (lambda values: np.sum(np.stack(values), axis=0))
    grid = sketch_grid(add([sketch_moments(p) for p in parts]))
    search = start_quantile_search(grid, num_bins)
    tolerance = np.maximum(1, np.floor(SKETCH_RANK_TOLERANCE * grid.count / num_bins))
    used = grid.scale > 0
    for _ in range(SKETCH_MAX_ROUNDS):
        search = refine_search(search, add([sketch_counts(p, grid, search) for p in parts]))
        lo, hi = grid.to_x(search.lo), grid.to_x(search.lo + search.width)
        resolved = ((search.upto - search.below <= tolerance[:, None])  # few values left
                    | (hi - lo <= 1e-6 * np.maximum(1.0, np.abs(hi))))  # a point mass
        if np.all(resolved[used]):
            break
    return search_edges(search, grid)


# --------------------------------------------------------------------------- gradients
def probabilities(scores: np.ndarray) -> np.ndarray:
    """float[n,K] raw scores -> float64[n,K]: sigmoid (K = 1) or softmax."""
    z = np.asarray(scores, np.float64)
    if z.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def quantized_gradients(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-loss gradient p - onehot(y) and hessian p(1-p) w.r.t. the raw scores, in fixed point:
    scores float[n,K], y int[n] -> (int64[n,K], int64[n,K]) in units of 2**-GRAD_FRACTION_BITS."""
    p = probabilities(scores)
    target = (np.asarray(y) == 1)[:, None] if p.shape[1] == 1 else np.eye(p.shape[1])[y]
    grad, hess = p - target, p * (1.0 - p)
    return np.rint(grad * _SCALE).astype(np.int64), np.rint(hess * _SCALE).astype(np.int64)


def log_loss_sum(scores: np.ndarray, y: np.ndarray) -> float:
    """Summed log-loss of raw scores float[n,K] for labels int[n] (K = 1: binary sigmoid)."""
    z = np.asarray(scores, np.float64)
    y = np.asarray(y)
    if z.shape[0] == 0:
        return 0.0
    if z.shape[1] == 1:
        s = np.where(y == 1, z[:, 0], -z[:, 0])
        return float(np.sum(np.logaddexp(0.0, -s)))
    zmax = z.max(axis=1)
    lse = zmax + np.log(np.exp(z - zmax[:, None]).sum(axis=1))
    return float(np.sum(lse - z[np.arange(len(y)), y]))


def predicted_classes(scores: np.ndarray) -> np.ndarray:
    """float[n,K] raw scores -> int64[n] classes (K = 1: score >= 0 is class 1)."""
    z = np.asarray(scores)
    if z.shape[1] == 1:
        return (z[:, 0] >= 0).astype(np.int64)
    return z.argmax(axis=1).astype(np.int64)


# --------------------------------------------------------------------------- histograms
def level_offset(level: int) -> int:
    """Heap index of the first node of `level` (2**level - 1)."""
    return 2**level - 1


def node_histograms(binned: np.ndarray, node: np.ndarray, grad: np.ndarray, hess: np.ndarray,
                    num_nodes: int, width: int) -> np.ndarray:
    """Gradient/hessian/count histograms of the rows at each node of one level.

    binned uint[n,F]; node int[n,K]: the row's node of tree k within the level, in [0,
    num_nodes), or -1 (not at this level); grad, hess int64[n,K] fixed point ->
    int64[K, num_nodes, F, width, 3].
    """
    binned = np.asarray(binned)
    if binned.ndim != 2 or not np.issubdtype(binned.dtype, np.unsignedinteger):
        raise ValueError(f"binned must be an unsigned int array [n, F]; got "
                         f"{binned.dtype}{list(binned.shape)}")
    n, f = binned.shape
    if n > _MAX_ROWS:
        raise ValueError(f"binned must have <= {_MAX_ROWS} rows (exact fixed-point sums); got {n}")
    node, grad, hess = np.asarray(node), np.asarray(grad), np.asarray(hess)
    k = node.shape[1] if node.ndim == 2 else -1
    for name, arr in (("node", node), ("grad", grad), ("hess", hess)):
        arr = np.asarray(arr)
        if arr.shape != (n, k) or k < 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must be an int array of shape [{n}, K] like binned; got "
                             f"{arr.dtype}{list(arr.shape)}")
    _check_int("num_nodes", num_nodes, 1)
    _check_int("width", width, 2)
    if n and (node.max() >= num_nodes or node.min() < -1):
        raise ValueError(f"node must be in [-1, {num_nodes}); got [{node.min()}, {node.max()}]")
    if n and binned.max() >= width:
        raise ValueError(f"binned values must be < width = {width}; got {binned.max()}")
    size = num_nodes * f * width
    out = np.zeros((k, size, 3), np.int64)
    cols = np.arange(f, dtype=np.int64) * width
    for j in range(k):
        rows = np.flatnonzero(node[:, j] >= 0)
        if rows.size == 0:
            continue
        idx = (node[rows, j].astype(np.int64)[:, None] * (f * width) + cols[None, :]
               + binned[rows].astype(np.int64)).ravel()
        for c, w in enumerate((grad[rows, j], hess[rows, j], None)):
            weights = None if w is None else np.repeat(w.astype(np.float64), f)
            out[j, :, c] = np.rint(np.bincount(idx, weights, minlength=size)).astype(np.int64)
    return out.reshape(k, num_nodes, f, width, 3)


# --------------------------------------------------------------------------- split finding
@dataclasses.dataclass(frozen=True, eq=False)
class LevelSplits:
    """The server's decision for every node of one level of the K trees (the broadcast).

    feature int32[K,nodes] (-1 = no split: a leaf), bin int32[K,nodes] (rows with bin > bin go
    right, i.e. x >= thresholds[feature][bin]), missing_right bool[K,nodes], gain
    float64[K,nodes], left/right int64[K,nodes,3]: the children's summed statistics.
    """

    feature: np.ndarray
    bin: np.ndarray
    missing_right: np.ndarray
    gain: np.ndarray
    left: np.ndarray
    right: np.ndarray

    def wire_nbytes(self) -> int:
        """Bytes the clients need to route their rows (feature, bin, missing_right)."""
        return int(self.feature.nbytes + self.bin.nbytes + self.missing_right.nbytes)


def _score(stats: np.ndarray, l2: float) -> np.ndarray:
    g = stats[..., 0] / _SCALE
    h = stats[..., 1] / _SCALE
    return g * g / (h + l2)


def find_splits(histograms: np.ndarray, edges: BinEdges, config: HistGBTConfig,
                active: np.ndarray) -> LevelSplits:
    """Best split of every active node from summed histograms (see the module docstring).

    histograms int64[K, nodes, F, num_bins+1, 3]; active bool[K, nodes] (nodes that may split).
    """
    h = np.asarray(histograms)
    if not isinstance(edges, BinEdges):
        raise ValueError(f"edges must be a BinEdges; got {type(edges).__name__}")
    if not isinstance(config, HistGBTConfig):
        raise ValueError(f"config must be a HistGBTConfig; got {type(config).__name__}")
    if (h.ndim != 5 or h.shape[2:] != (edges.num_features, edges.width, 3)
            or not np.issubdtype(h.dtype, np.integer)):
        raise ValueError(f"histograms must be int[K, nodes, {edges.num_features}, "
                         f"{edges.width}, 3]; got {h.dtype}{list(h.shape)}")
    k, nodes = h.shape[:2]
    active = np.asarray(active)
    if active.shape != (k, nodes) or active.dtype != np.bool_:
        raise ValueError(f"active must be bool[{k}, {nodes}]; got "
                         f"{active.dtype}{list(active.shape)}")
    h = h.astype(np.int64)
    nb = edges.num_bins
    cum = np.cumsum(h[:, :, :, : nb - 1, :], axis=3)  # left stats at threshold j (non-missing)
    missing = h[:, :, :, nb, :][:, :, :, None, :]
    total = h[:, :, 0, :, :].sum(axis=2)[:, :, None, None, :]  # node totals (feature 0)
    left = np.stack([cum + missing, cum], axis=4)  # [K,N,F,J,2 dirs,3]: missing left / right
    right = total[:, :, :, :, None, :] - left
    l2 = float(config.l2_regularization)
    gain = _score(left, l2) + _score(right, l2) - _score(total, l2)[..., None]
    valid = ((left[..., 2] >= config.min_examples) & (right[..., 2] >= config.min_examples)
             & (left[..., 1] >= config.min_child_hessian * _SCALE)
             & (right[..., 1] >= config.min_child_hessian * _SCALE)
             & (np.arange(nb - 1)[None, :] < edges.counts[:, None])[None, None, :, :, None]
             & active[:, :, None, None, None])
    gain = np.where(valid, gain, -np.inf).reshape(k, nodes, -1)  # flat order: (f, j, dir)
    best = gain.argmax(axis=2)  # first maximum: lowest feature, threshold, missing-left
    best_gain = np.take_along_axis(gain, best[..., None], axis=2)[..., 0]
    split = best_gain > 0
    f, rest = np.divmod(best, (nb - 1) * 2)
    j, direction = np.divmod(rest, 2)
    kk, nn = np.meshgrid(np.arange(k), np.arange(nodes), indexing="ij")
    chosen_left = left[kk, nn, f, j, direction]
    chosen_right = right[kk, nn, f, j, direction]
    no_missing = missing[kk, nn, f, 0, 2] == 0
    direction = np.where(no_missing, chosen_right[..., 2] > chosen_left[..., 2], direction == 1)
    chosen_left, chosen_right = (  # recompute for the (possibly) flipped direction
        left[kk, nn, f, j, direction.astype(int)], right[kk, nn, f, j, direction.astype(int)])
    return LevelSplits(
        feature=np.where(split, f, -1).astype(np.int32),
        bin=np.where(split, j, 0).astype(np.int32),
        missing_right=split & direction,
        gain=np.where(split, best_gain, 0.0),
        left=np.where(split[..., None], chosen_left, 0),
        right=np.where(split[..., None], chosen_right, 0))


def leaf_values(stats: np.ndarray, config: HistGBTConfig) -> np.ndarray:
    """Newton leaf values times learning rate: int64[..., 3] node statistics -> float32[...]."""
    s = np.asarray(stats)
    factor = 1.0 if config.num_outputs == 1 else (config.num_outputs - 1) / config.num_outputs
    g, hs = s[..., 0] / _SCALE, s[..., 1] / _SCALE
    value = -factor * g / (hs + config.l2_regularization) * config.learning_rate
    return np.where(s[..., 2] > 0, value, 0.0).astype(np.float32)


# --------------------------------------------------------------------------- one party's rows
class BoostingClient:
    """One party's rows during boosting: its binned features, raw scores and node assignments.

    x float[n,F], y int[n] (training rows); x_val, y_val (optional validation rows). Everything
    it returns is a sum over its rows (histograms, label counts, validation loss); what it gets
    is the server's decisions (bias, level splits, leaf values).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, edges: BinEdges, num_classes: int,
                 x_val: np.ndarray | None = None, y_val: np.ndarray | None = None) -> None:
        if not isinstance(edges, BinEdges):
            raise ValueError(f"edges must be a BinEdges; got {type(edges).__name__}")
        _check_int("num_classes", num_classes, 2)
        self.edges, self.num_classes = edges, num_classes
        self.num_outputs = 1 if num_classes == 2 else num_classes
        x = _check_x("x", x, edges.num_features)
        self.binned = bin_features(x, edges)
        self.y = _check_y("y", y, x.shape[0], num_classes)
        if (x_val is None) != (y_val is None):
            raise ValueError("x_val and y_val must be given together (or neither)")
        if x_val is not None:
            xv = _check_x("x_val", x_val, edges.num_features)
            self.binned_val = bin_features(xv, edges)
            self.y_val = _check_y("y_val", y_val, xv.shape[0], num_classes)
        else:
            self.binned_val = np.zeros((0, edges.num_features), self.binned.dtype)
            self.y_val = np.zeros(0, np.int64)
        self.scores = np.zeros((len(self.y), self.num_outputs))
        self.val_scores = np.zeros((len(self.y_val), self.num_outputs))
        self._node = self._val_node = None
        self._grad = self._hess = None

    @property
    def num_examples(self) -> int:
        """Training rows."""
        return int(len(self.y))

    def label_counts(self) -> np.ndarray:
        """int64[num_classes]: training labels per class."""
        return np.bincount(self.y, minlength=self.num_classes).astype(np.int64)

    def set_bias(self, bias: np.ndarray) -> None:
        """Starts every raw score at `bias` float32[K]."""
        self.scores[:] = np.asarray(bias, np.float32)
        self.val_scores[:] = np.asarray(bias, np.float32)

    def start_iteration(self) -> None:
        """Gradients of the current scores; every row at the root of the K new trees."""
        self._grad, self._hess = quantized_gradients(self.scores, self.y)
        self._node = np.zeros((self.num_examples, self.num_outputs), np.int64)
        self._val_node = np.zeros((len(self.y_val), self.num_outputs), np.int64)

    def histograms(self, level: int, active: np.ndarray) -> np.ndarray:
        """Histograms of the rows at the `active` (bool[K, 2**level]) nodes of `level`, as sent:
        int64[K, 1, F, num_bins+1, 3] for the root (level 0), else int64[K, 2**(level-1), F,
        num_bins+1, 3] of the LEFT child of each parent slot (the server gets each right child
        as parent - left, exactly: the sums are integers)."""
        offset, nodes = level_offset(level), 2**level
        local = self._node - offset
        at_level = (local >= 0) & (local < nodes)
        kk = np.broadcast_to(np.arange(self.num_outputs), local.shape)
        ok = at_level & active[kk, np.clip(local, 0, nodes - 1)]
        if level == 0:
            return node_histograms(self.binned, np.where(ok, local, -1), self._grad,
                                   self._hess, 1, self.edges.width)
        slot = np.where(ok & (local % 2 == 0), local // 2, -1)
        return node_histograms(self.binned, slot, self._grad, self._hess, nodes // 2,
                               self.edges.width)

    def apply_splits(self, level: int, splits: LevelSplits) -> None:
        """Moves the rows of the split nodes of `level` to their children."""
        for binned, node in ((self.binned, self._node), (self.binned_val, self._val_node)):
            _route(binned, node, level, splits, self.edges.missing_bin)

    def finish_iteration(self, values: np.ndarray) -> None:
        """Adds the reached leaves' values (float32[K, max_nodes]) to the raw scores."""
        kk = np.arange(self.num_outputs)[None, :]
        self.scores += values[kk, self._node]
        self.val_scores += values[kk, self._val_node]

    def validation_stats(self) -> np.ndarray:
        """float64[3]: summed validation log-loss, correct predictions, validation rows."""
        correct = np.sum(predicted_classes(self.val_scores) == self.y_val)
        return np.array([log_loss_sum(self.val_scores, self.y_val), correct, len(self.y_val)],
                        np.float64)


def _route(binned: np.ndarray, node: np.ndarray, level: int, splits: LevelSplits,
           missing_bin: int) -> None:
    offset, nodes = level_offset(level), splits.feature.shape[1]
    local = node - offset
    at_level = (local >= 0) & (local < nodes)
    kk = np.broadcast_to(np.arange(node.shape[1]), node.shape)
    li = np.clip(local, 0, nodes - 1)
    feature = splits.feature[kk, li]
    moves = at_level & (feature >= 0)
    rows = np.arange(node.shape[0])[:, None]
    b = binned[rows, np.maximum(feature, 0)].astype(np.int64)
    right = np.where(b == missing_bin, splits.missing_right[kk, li], b > splits.bin[kk, li])
    node[:] = np.where(moves, 2 * node + 1 + right, node)


# --------------------------------------------------------------------------- the server loop
class HistogramSource(abc.ABC):
    """Where the server's sums come from: one party (`LocalSource`) or federated clients."""

    @abc.abstractmethod
    def label_counts(self) -> np.ndarray:
        """int64[num_classes]: summed training label counts."""

    @abc.abstractmethod
    def set_bias(self, bias: np.ndarray) -> None:
        """Sends the initial raw score float32[K]."""

    @abc.abstractmethod
    def start_iteration(self) -> None:
        """Starts K new trees (gradients of the current scores)."""

    @abc.abstractmethod
    def histograms(self, level: int, active: np.ndarray) -> np.ndarray:
        """Summed `BoostingClient.histograms`: the roots (level 0) or the left children."""

    @abc.abstractmethod
    def apply_splits(self, level: int, splits: LevelSplits) -> None:
        """Sends the level's splits."""

    @abc.abstractmethod
    def finish_iteration(self, values: np.ndarray) -> None:
        """Sends the K trees' leaf values float32[K, max_nodes]."""

    @abc.abstractmethod
    def validation_stats(self) -> np.ndarray | None:
        """float64[3] summed (log-loss, correct, rows) of the validation rows, or None."""


class LocalSource(HistogramSource):
    """All rows at one party: the centralised histogram GBT."""

    def __init__(self, client: BoostingClient) -> None:
        self.client = client

    def label_counts(self) -> np.ndarray:
        return self.client.label_counts()

    def set_bias(self, bias: np.ndarray) -> None:
        self.client.set_bias(bias)

    def start_iteration(self) -> None:
        self.client.start_iteration()

    def histograms(self, level: int, active: np.ndarray) -> np.ndarray:
        return self.client.histograms(level, active)

    def apply_splits(self, level: int, splits: LevelSplits) -> None:
        self.client.apply_splits(level, splits)

    def finish_iteration(self, values: np.ndarray) -> None:
        self.client.finish_iteration(values)

    def validation_stats(self) -> np.ndarray | None:
        stats = self.client.validation_stats()
        return stats if stats[2] > 0 else None


def initial_bias(label_counts: np.ndarray, num_outputs: int) -> np.ndarray:
    """float32[K] log class priors (add-one smoothed) of int[C] counts; K = 1: log odds."""
    counts = np.asarray(label_counts, np.float64)
    prior = (counts + 1.0) / (counts.sum() + len(counts))
    bias = np.log(prior[1:2] / prior[0:1]) if num_outputs == 1 else np.log(prior)
    return bias.astype(np.float32)


@dataclasses.dataclass
class BoostingResult:
    """The ensemble (early-stopped prefix), per-iteration history and server-side counters."""

    ensemble: TreeEnsemble
    history: list[dict[str, float]]
    iterations_grown: int
    histogram_calls: int


def boost(source: HistogramSource, edges: BinEdges, config: HistGBTConfig,
          feature_names: Sequence[str] | None = None) -> BoostingResult:
    """The server's histogram-GBT loop over `source`; returns the 'gbt' ensemble.

    Per iteration: K trees grown level by level (one `source.histograms` call per level, all
    nodes and all K trees at once, right children by subtraction; stops early when no node
    splits), leaf values sent, then the
    validation loss of the new model read (`early_stopping_rounds` iterations without a lower
    mean validation log-loss stop training and the best prefix is kept; without validation rows
    all `num_trees` iterations are kept).
    """
    if not isinstance(config, HistGBTConfig):
        raise ValueError(f"config must be a HistGBTConfig; got {type(config).__name__}")
    if not isinstance(edges, BinEdges) or edges.num_bins != config.num_bins:
        raise ValueError(f"edges must be a BinEdges with num_bins={config.num_bins} "
                         f"(config.num_bins); got {type(edges).__name__} with num_bins="
                         f"{getattr(edges, 'num_bins', None)}")
    names = (tuple(f"x{i}" for i in range(edges.num_features)) if feature_names is None
             else tuple(feature_names))
    if len(names) != edges.num_features:
        raise ValueError(f"feature_names must have {edges.num_features} names (edges' "
                         f"features); got {len(names)}")
    k, m = config.num_outputs, config.max_nodes
    bias = initial_bias(source.label_counts(), k)
    source.set_bias(bias)
    trees: list[dict[str, np.ndarray]] = []
    history: list[dict[str, float]] = []
    best_loss, best_iter, calls = math.inf, 0, 0

    def record(iteration: int) -> bool:
        """Reads validation; True when training should stop."""
        nonlocal best_loss, best_iter
        stats = source.validation_stats()
        entry = {"iteration": iteration, "num_trees": iteration * k}
        if stats is not None:
            loss, acc = stats[0] / stats[2], stats[1] / stats[2]
            entry.update(val_loss=float(loss), val_accuracy=float(acc))
            if loss < best_loss:
                best_loss, best_iter = loss, iteration
        history.append(entry)
        return (stats is not None and config.early_stopping_rounds > 0
                and iteration - best_iter >= config.early_stopping_rounds)

    record(0)
    for it in range(1, config.num_trees + 1):
        source.start_iteration()
        tree = {"feature": np.full((k, m), -1, np.int32), "bin": np.zeros((k, m), np.int32),
                "missing_go_right": np.zeros((k, m), bool), "stats": np.zeros((k, m, 3), np.int64)}
        active = np.ones((k, 1), bool)
        parent_hist = None
        for level in range(config.max_depth):
            sent = source.histograms(level, active)
            calls += 1
            offset, nodes = level_offset(level), 2**level
            if level == 0:
                hist = sent
                tree["stats"][:, 0] = hist[:, 0, 0].sum(axis=1)
            else:  # right child = parent - left child; zero for nodes whose parent is a leaf
                hist = np.empty((k, nodes, *sent.shape[2:]), np.int64)
                hist[:, 0::2] = sent
                hist[:, 1::2] = parent_hist - sent
                hist[~active] = 0
            splits = find_splits(hist, edges, config, active)
            ids = offset + np.arange(nodes)
            tree["feature"][:, ids] = splits.feature
            tree["bin"][:, ids] = splits.bin
            tree["missing_go_right"][:, ids] = splits.missing_right
            split = splits.feature >= 0
            children = 2 * ids + 1
            tree["stats"][:, children] = splits.left
            tree["stats"][:, children + 1] = splits.right
            if not split.any():
                break
            source.apply_splits(level, splits)
            active = np.repeat(split, 2, axis=1)  # children of split nodes, in heap order
            parent_hist = hist
        values = np.where(tree["feature"] < 0, leaf_values(tree["stats"], config), 0.0)
        values = values.astype(np.float32)
        source.finish_iteration(values)
        trees.append({**tree, "leaf_value": values})
        if record(it):
            break
    grown = len(trees)
    keep = trees[:best_iter] if history[0].get("val_loss") is not None else trees
    ensemble = _to_ensemble(keep, bias, edges, config, names)
    return BoostingResult(ensemble, history, grown, calls)


def _to_ensemble(trees: list[dict[str, np.ndarray]], bias: np.ndarray, edges: BinEdges,
                 config: HistGBTConfig, names: tuple[str, ...]) -> TreeEnsemble:
    k, m = config.num_outputs, config.max_nodes
    if not trees:  # the bias alone: one zero leaf
        return TreeEnsemble(
            kind="gbt", num_classes=config.num_classes, feature_names=names,
            feature=np.full((1, m), -1), threshold=np.zeros((1, m)), left=np.full((1, m), -1),
            right=np.full((1, m), -1), missing_go_right=np.zeros((1, m), bool),
            leaf_value=np.zeros((1, m, 1)), bias=bias, output_class=[0])
    feature = np.concatenate([t["feature"] for t in trees])  # [iterations*K, M], k fastest
    bins = np.concatenate([t["bin"] for t in trees])
    padded = np.concatenate([edges.padded(), np.zeros((edges.num_features, 1), np.float32)],
                            axis=1)
    internal = feature >= 0
    threshold = np.where(internal, padded[np.maximum(feature, 0), bins], 0.0)
    ids = np.arange(m)
    left = np.where(internal, 2 * ids + 1, -1)
    right = np.where(internal, 2 * ids + 2, -1)
    return TreeEnsemble(
        kind="gbt", num_classes=config.num_classes, feature_names=names, feature=feature,
        threshold=threshold.astype(np.float32), left=left, right=right,
        missing_go_right=np.concatenate([t["missing_go_right"] for t in trees]) & internal,
        leaf_value=np.concatenate([t["leaf_value"] for t in trees])[..., None],
        bias=bias, output_class=np.tile(np.arange(k), len(trees)))


def fit_histogram_gbt(x: np.ndarray, y: np.ndarray, edges: BinEdges, config: HistGBTConfig,
                      x_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                      feature_names: Sequence[str] | None = None) -> BoostingResult:
    """Centralised histogram GBT: x float[n,F], y int[n] (and optional validation rows for early
    stopping) with bins `edges` -> BoostingResult (a 'gbt' TreeEnsemble and its history)."""
    if not isinstance(config, HistGBTConfig):
        raise ValueError(f"config must be a HistGBTConfig; got {type(config).__name__}")
    client = BoostingClient(x, y, edges, config.num_classes, x_val, y_val)
    return boost(LocalSource(client), edges, config, feature_names)
