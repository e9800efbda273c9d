"""Face data for federated training: client splits plus the public/private test sets.

FER2013: the `train` split is partitioned into `partition.num_clients` Dirichlet(alpha) clients,
each with a local validation split; PublicTest tunes, PrivateTest is reported.
Synthetic cohort: one client per driver; the last two drivers are held out, one as the public
(validation) set and one as the private (test) set.
"""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from emocore.label_spaces import FER7
from emodata.fer2013 import fer2013_path, load_fer2013
from emodata.partitioning import ClientPartition, dirichlet_partition, group_partition
from emodata.synthetic_cohort import CohortConfig, face_dataset, generate_cohort

Split = tuple[np.ndarray, np.ndarray]  # (uint8[N,48,48] images, int64[N] labels)


@dataclasses.dataclass(frozen=True)
class FaceData:
    """Client train/validation splits and the two evaluation sets (FER7 labels)."""

    clients: list[Split]
    clients_val: list[Split]
    public_test: Split
    private_test: Split
    description: dict
    class_names: tuple[str, ...] = FER7.labels

    def pooled_train(self) -> Split:
        """All clients' train splits concatenated (the centralised baseline's data)."""
        return (np.concatenate([x for x, _ in self.clients]),
                np.concatenate([y for _, y in self.clients]))


def _split_clients(images: np.ndarray, labels: np.ndarray, parts: list[ClientPartition]
                   ) -> tuple[list[Split], list[Split]]:
    train = [(images[p.train_indices], labels[p.train_indices]) for p in parts]
    val = [(images[p.val_indices], labels[p.val_indices]) for p in parts]
    return train, val


def _describe(train: list[Split], val: list[Split], **extra: object) -> dict:
    return {**extra,
            "client_train_sizes": [len(y) for _, y in train],
            "client_val_sizes": [len(y) for _, y in val],
            "client_class_counts": [np.bincount(y, minlength=7).tolist() for _, y in train]}


def load_fer2013_clients(config: ml_collections.ConfigDict) -> FaceData:
    """FER2013 train → Dirichlet clients; PublicTest and PrivateTest kept whole."""
    d, p = config.data, config.partition
    data = load_fer2013(fer2013_path(d.data_root), cache_dir=d.cache_dir or None)
    train = data.split("train")
    parts = dirichlet_partition(train.labels, p.num_clients, alpha=p.alpha,
                                val_fraction=p.val_fraction, seed=config.seed)
    clients, clients_val = _split_clients(train.images, train.labels, parts)
    public, private = data.split("public_test"), data.split("private_test")
    return FaceData(clients, clients_val, (public.images, public.labels),
                    (private.images, private.labels),
                    _describe(clients, clients_val, source="fer2013",
                              path=str(fer2013_path(d.data_root)), alpha=p.alpha,
                              public_test=len(public), private_test=len(private)))


def load_synthetic_clients(config: ml_collections.ConfigDict) -> FaceData:
    """Synthetic cohort faces: one client per driver, last two drivers held out."""
    # Faces only: a driver's faces do not depend on its episodes (separate seeds), so none are
    # rendered here beyond one frameless drive.
    cohort = generate_cohort(config.data.synthetic_drivers, seed=config.seed,
                             config=CohortConfig(faces_per_class=config.data.synthetic_faces_per_class,
                                                 episodes_per_driver=1, frame_fps=0.0))
    faces = face_dataset(cohort)
    images, labels, drivers = faces.images, faces.labels, np.asarray(faces.driver_ids)
    held_public, held_private = np.unique(drivers)[-2:]
    train_mask = ~np.isin(drivers, [held_public, held_private])
    idx = np.flatnonzero(train_mask)
    parts = group_partition(drivers[idx], val_fraction=config.partition.val_fraction,
                            seed=config.seed)
    clients, clients_val = _split_clients(images[idx], labels[idx], parts)
    public = drivers == held_public
    private = drivers == held_private
    return FaceData(clients, clients_val, (images[public], labels[public]),
                    (images[private], labels[private]),
                    _describe(clients, clients_val, source="synthetic",
                              drivers=int(len(np.unique(drivers))),
                              public_test=int(public.sum()), private_test=int(private.sum())))


def load_face_data(config: ml_collections.ConfigDict) -> FaceData:
    """The configured face data (`config.data.source`)."""
    if config.data.source == "fer2013":
        return load_fer2013_clients(config)
    if config.data.source == "synthetic":
        return load_synthetic_clients(config)
    raise ValueError(f"config.data.source must be 'fer2013' or 'synthetic'; got "
                     f"{config.data.source!r}")
