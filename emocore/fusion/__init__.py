"""The ONE implementation of decision-level fusion of per-modality driver-state probabilities.

Every modality (face CNN, physiological forest, ...) delivers a `ModalityReading`: a probability
vector `float[3]` over DRIVER_STATE3 = (neutral, positive, negative) — map model outputs with
`to_driver_state` — plus its timestamp and a quality/confidence in [0, 1].

Gating (never guessed): a reading is EXCLUDED when its probs are None or contain NaN
("missing"), its timestamp is not finite or lies in the future, its age `now_s - timestamp_s`
exceeds `max_age_s` ("stale"), or its quality is NaN or below `min_quality` ("low quality").
When every modality is excluded the result is explicitly "unknown" (label_index -1, probs None).

Strategies over the K=3 vectors `p_m` of the M remaining modalities (float64 arithmetic):
- `confidence_weighted` (default): `sum_m w_m p_m / sum_m w_m` with `w_m = max_c p_m[c]`
  (`confidence_measure="max_prob"`) or `w_m = 1 - H(p_m) / ln K` with `H = -sum p ln p`,
  `0 ln 0 = 0` ("entropy"); if every `w_m` is 0 (all uniform) the weights are equal.
- `majority_vote`: each modality votes its argmax (first class on a within-modality tie); the
  distribution is the vote share; the label is the most-voted class, ties broken by the summed
  probability over modalities, then by the fixed class order (neutral < positive < negative).
- `product_of_experts`: `prod_m max(p_m, epsilon)` normalised (computed in log space).
- `learned_weights`: the linear pool `sum_m W[m] * p_m` normalised, with per-modality scalar or
  per-class weights `W` fitted by `tff_train.fusion_weights.fit_learned_weights`; a zero pool
  is "unknown".
- `learned_log_pool`: the logarithmic pool `prod_m max(p_m, epsilon) ** W[m]` normalised
  (computed in log space; per-class `W[m, c]` exponents), weights fitted the same way with
  `pool="log"`. Confident disagreements end in a compromise instead of the larger weight
  winning outright, as they do in the linear pool.
The label is the argmax of the (smoothed) distribution; ties go to the higher tie-break score
(summed probability for votes, none otherwise), then to the lower class index.

Reading pooling (`FusionEngine`, `pooling_half_life_s[m] > 0`): each new reading of modality m
(usable, newer than the last) enters a pool of log-probabilities, `L <- (1 - a) L + a ln max(p,
epsilon)` with `a = 1 - 2^(-dt / half_life)` and `dt` the time between the readings, and the
pooled distribution `exp(L)` normalised is fused in its place: a geometric mean of the recent
readings, so a brief expression that does not match the driver's state is outvoted. The pool
restarts after a gap between readings longer than `smoothing_reset_gap_s`; repeated, older or
excluded readings leave it untouched.

Temporal smoothing (`FusionEngine`, `smoothing_half_life_s > 0`): an exponential moving
average over fused distributions, `s <- (1 - a) s + a p` with `a = 1 - 2^(-dt / half_life)` and
`dt` the time since the last known result; the state resets to `p` after a gap longer than
`smoothing_reset_gap_s`. "unknown" steps are reported as unknown and leave the state untouched.

Modules: `config` (FusionConfig, LearnedWeights: fusion.json), `strategies` (to_driver_state,
combine), `engine` (exclusions, fuse, FusionEngine).
"""

from emocore.fusion.config import (
    CONFIDENCE_MEASURES,
    FUSED_SPACE,
    FUSION_JSON_VERSION,
    LEARNED_POOLS,
    LEARNED_STRATEGIES,
    OBJECTIVES,
    STRATEGIES,
    SUM_TOLERANCE,
    UNKNOWN,
    FusionConfig,
    LearnedWeights,
    finite_number,
)
from emocore.fusion.engine import (
    Exclusion,
    ExclusionKind,
    FusionEngine,
    FusionResult,
    ModalityReading,
    fuse,
)
from emocore.fusion.strategies import combine, model_output_probs, to_driver_state

__all__ = [
    "CONFIDENCE_MEASURES",
    "FUSED_SPACE",
    "FUSION_JSON_VERSION",
    "OBJECTIVES",
    "LEARNED_POOLS",
    "LEARNED_STRATEGIES",
    "STRATEGIES",
    "SUM_TOLERANCE",
    "UNKNOWN",
    "Exclusion",
    "ExclusionKind",
    "FusionConfig",
    "FusionEngine",
    "FusionResult",
    "LearnedWeights",
    "ModalityReading",
    "combine",
    "finite_number",
    "fuse",
    "model_output_probs",
    "to_driver_state",
]
