"""Label spaces of every dataset and their mapping into the fused driver-state space.

Mappings are explicit 0/1 matrices `float32[S, T]` (source class -> target class), so a
probability vector `p: float32[..., S]` maps with `p @ M` and a label with `M[y].argmax()`.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class LabelSpace:
    """An ordered set of class names; index i is class id i."""

    name: str
    labels: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def index(self, label: str) -> int:
        """Class id of `label`; raises ValueError naming the space when unknown."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValueError(
                f"label {label!r} is not in label space {self.name!r}; expected one of "
                f"{list(self.labels)}"
            ) from None


# Canonical FER2013 order (fer2013.csv `emotion` column).
FER7 = LabelSpace("fer7", ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
# WESAD feature CSVs: one-hot columns `0,1,2`.
WESAD3 = LabelSpace("wesad3", ("amusement", "baseline", "stress"))
# WESAD binary stress task: stress vs non-stress (amusement + baseline).
WESAD_BINARY = LabelSpace("wesad_binary", ("non_stress", "stress"))
# drivedb stress levels after Healey & Picard: rest = low, highway = medium, city = high.
DRIVEDB3 = LabelSpace("drivedb3", ("low", "medium", "high"))
# The fused driver-state space used on the head unit.
DRIVER_STATE3 = LabelSpace("driver_state3", ("neutral", "positive", "negative"))

LABEL_SPACES: dict[str, LabelSpace] = {
    s.name: s for s in (FER7, WESAD3, WESAD_BINARY, DRIVEDB3, DRIVER_STATE3)
}

# Source label -> target label, by name (documented, reviewed, and turned into matrices).
_MAPPINGS: dict[tuple[str, str], dict[str, str]] = {
    ("fer7", "driver_state3"): {
        "neutral": "neutral",
        "happy": "positive",
        "surprise": "positive",
        "angry": "negative",
        "disgust": "negative",
        "fear": "negative",
        "sad": "negative",
    },
    ("wesad3", "driver_state3"): {
        "baseline": "neutral",
        "amusement": "positive",
        "stress": "negative",
    },
    ("wesad3", "wesad_binary"): {
        "baseline": "non_stress",
        "amusement": "non_stress",
        "stress": "stress",
    },
    ("drivedb3", "driver_state3"): {
        "low": "neutral",
        "medium": "negative",
        "high": "negative",
    },
}


def get_label_space(name: str) -> LabelSpace:
    """The label space called `name`; raises ValueError listing the known names."""
    if name not in LABEL_SPACES:
        raise ValueError(
            f"label_space must be one of {sorted(LABEL_SPACES)}; got {name!r}"
        )
    return LABEL_SPACES[name]


def mapping_matrix(source: str, target: str) -> np.ndarray:
    """0/1 matrix `float32[S, T]` mapping classes of `source` onto classes of `target`.

    The identity when `source == target`. Every source row has exactly one 1.
    """
    src, dst = get_label_space(source), get_label_space(target)
    if source == target:
        return np.eye(src.num_classes, dtype=np.float32)
    if (source, target) not in _MAPPINGS:
        known = sorted(f"{a}->{b}" for a, b in _MAPPINGS)
        raise ValueError(f"no mapping from {source!r} to {target!r}; known mappings: {known}")
    table = _MAPPINGS[(source, target)]
    matrix = np.zeros((src.num_classes, dst.num_classes), dtype=np.float32)
    for i, label in enumerate(src.labels):
        matrix[i, dst.index(table[label])] = 1.0
    return matrix


def map_labels(labels: np.ndarray, source: str, target: str) -> np.ndarray:
    """Map integer labels `int[N]` of `source` onto `int64[N]` labels of `target`."""
    labels = np.asarray(labels)
    matrix = mapping_matrix(source, target)
    if labels.size and (labels.min() < 0 or labels.max() >= matrix.shape[0]):
        raise ValueError(
            f"labels must lie in [0, {matrix.shape[0]}) for {source!r}; got range "
            f"[{labels.min()}, {labels.max()}]"
        )
    return matrix.argmax(axis=1)[labels].astype(np.int64)
