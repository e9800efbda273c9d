"""Validation of face-training configs (fails before any data is loaded or model built)."""

from __future__ import annotations

from pathlib import Path

import ml_collections

from tff_train.aggregators.client_faults import ATTACKS
from tff_train.aggregators.options import as_options, validate_options
from tff_train.config_checks import is_int as _is_int
from tff_train.config_checks import require as _require
from tff_train.face.model import CONFIG_COMPUTE_DTYPES, NORMALIZATIONS, conv_channels
from tff_train.face.process import UPDATE_ATTACKS, aggregation_options
from tff_train.learning.client_sampling import SAMPLINGS
from tff_train.learning.fed_avg import CLIENT_LOOPS
from tff_train.learning.learning_rate_schedule import SCHEDULES
from tff_train.learning.optimizers import OPTIMIZERS

SOURCES = ("fer2013", "synthetic")


def validate_face_config(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the first invalid key (`config.train.rounds must be ...`)."""
    d, p, m, t = config.data, config.partition, config.model, config.train
    _require(d.source in SOURCES, "data.source", f"one of {list(SOURCES)}", d.source)
    if d.source == "fer2013":
        root = Path(d.data_root) / "fer2013"
        csv = Path(d.data_root) / "fer2013.csv"
        _require(root.exists() or csv.exists() or Path(d.data_root).suffix == ".csv",
                 "data.data_root", "a folder holding fer2013/ (image folders) or fer2013.csv "
                 "(the FER2013 data path is missing)", str(d.data_root))
        _require(p.num_clients >= 1, "partition.num_clients", ">= 1", p.num_clients)
        _require(p.alpha > 0, "partition.alpha", "> 0", p.alpha)
        num_clients = p.num_clients
    else:
        _require(isinstance(d.synthetic_faces_per_class, int)
                 and not isinstance(d.synthetic_faces_per_class, bool)
                 and d.synthetic_faces_per_class >= 1, "data.synthetic_faces_per_class",
                 "an int >= 1", d.synthetic_faces_per_class)
        _require(d.synthetic_drivers >= 3, "data.synthetic_drivers",
                 ">= 3 (one per client, one validation and one test driver)", d.synthetic_drivers)
        num_clients = d.synthetic_drivers - 2
        _require(p.num_clients in (0, num_clients), "partition.num_clients",
                 f"0 or {num_clients} (synthetic clients are the drivers minus 2 held out)",
                 p.num_clients)
    _require(m.compute_dtype in CONFIG_COMPUTE_DTYPES, "model.compute_dtype",
             f"one of {list(CONFIG_COMPUTE_DTYPES)}", m.compute_dtype)
    _require(0 <= p.val_fraction < 1, "partition.val_fraction", "in [0, 1)", p.val_fraction)
    _require(m.width >= 1, "model.width", ">= 1", m.width)
    _require(1 <= m.depth <= 5, "model.depth", "in [1, 5]", m.depth)
    _require(m.normalization in NORMALIZATIONS, "model.normalization",
             f"one of {list(NORMALIZATIONS)}", m.normalization)
    if m.normalization == "group":
        channels = conv_channels(m.width, m.depth, m.stem_width)
        _require(_is_int(m.norm_groups) and m.norm_groups >= 1
                 and not any(c % m.norm_groups for c in channels), "model.norm_groups",
                 f"an int >= 1 dividing every conv's channels {channels} (normalization='group')",
                 m.norm_groups)
    _require(isinstance(m.convs_per_block, tuple) and len(m.convs_per_block) == m.depth
             and all(_is_int(n) and n >= 1
                     for n in m.convs_per_block), "model.convs_per_block",
             f"a tuple of {m.depth} (model.depth) ints >= 1, e.g. {(1,) * m.depth}",
             m.convs_per_block)
    _require(m.stem_width >= 0, "model.stem_width", ">= 0 (0 = no stem)", m.stem_width)
    _require(0 <= m.dropout < 1, "model.dropout", "in [0, 1)", m.dropout)
    _require(t.rounds >= 1, "train.rounds", ">= 1", t.rounds)
    _require(1 <= t.clients_per_round <= num_clients, "train.clients_per_round",
             f"in [1, num_clients={num_clients}]", t.clients_per_round)
    _require(t.client_sampling in SAMPLINGS, "train.client_sampling",
             "'uniform' or 'poisson'", t.client_sampling)
    _require(t.client_loop in CLIENT_LOOPS, "train.client_loop", f"one of {sorted(CLIENT_LOOPS)}",
             t.client_loop)
    _require(t.local_epochs >= 1, "train.local_epochs", ">= 1", t.local_epochs)
    _require(isinstance(t.rounds_per_epoch, int) and t.rounds_per_epoch >= 1,
             "train.rounds_per_epoch", "an int >= 1", t.rounds_per_epoch)
    if t.rounds_per_epoch > 1:
        _require(t.local_epochs == 1, "train.local_epochs",
                 "1 when train.rounds_per_epoch > 1", t.local_epochs)
        _require(t.rounds % t.rounds_per_epoch == 0, "train.rounds",
                 f"a multiple of train.rounds_per_epoch={t.rounds_per_epoch} (whole epochs)",
                 t.rounds)
    _require(t.batch_size >= 1, "train.batch_size", ">= 1", t.batch_size)
    _require(t.client_optimizer in OPTIMIZERS, "train.client_optimizer",
             f"one of {list(OPTIMIZERS)}", t.client_optimizer)
    _require(t.server_optimizer in OPTIMIZERS, "train.server_optimizer",
             f"one of {list(OPTIMIZERS)}", t.server_optimizer)
    _require(t.client_learning_rate > 0, "train.client_learning_rate", "> 0",
             t.client_learning_rate)
    _require(t.lr_schedule in SCHEDULES, "train.lr_schedule", f"one of {list(SCHEDULES)}",
             t.lr_schedule)
    _require(0 <= t.label_smoothing < 1, "train.label_smoothing", "in [0, 1)",
             t.label_smoothing)
    _require(isinstance(t.prior_correction, bool), "train.prior_correction", "a bool",
             t.prior_correction)
    _require(t.server_learning_rate > 0, "train.server_learning_rate", "> 0",
             t.server_learning_rate)
    _require(0 <= t.dropout_fraction < 1, "train.dropout_fraction", "in [0, 1)",
             t.dropout_fraction)
    _require(t.eval_every >= 1, "train.eval_every", ">= 1", t.eval_every)
    _require(t.bn_calibration_examples >= 1, "train.bn_calibration_examples", ">= 1",
             t.bn_calibration_examples)
    f = config.faults
    _require(0 <= f.malicious_fraction < 1, "faults.malicious_fraction", "in [0, 1)",
             f.malicious_fraction)
    _require(t.client_datasets in ("driver", "store"), "train.client_datasets",
             "'driver' or 'store'", t.client_datasets)
    update_attacks = f.malicious_fraction > 0 and f.attack in UPDATE_ATTACKS
    _require(not (update_attacks and t.client_datasets == "store"), "train.client_datasets",
             f"'driver' with update attacks (faults.attack={f.attack!r} scales each client's "
             "update beside its dataset)", t.client_datasets)
    _require(f.attack in ATTACKS, "faults.attack", f"one of {list(ATTACKS)}", f.attack)
    _require(f.attack_scale > 0, "faults.attack_scale", "> 0", f.attack_scale)
    delta = config.privacy.delta
    _require(delta is None or 0 < delta < 1, "privacy.delta", "in (0, 1) or None (default)",
             delta)
    _require(config.personalization.steps >= 0, "personalization.steps", ">= 0",
             config.personalization.steps)
    validate_options(as_options(aggregation_options(config)))  # `aggregation.<key> must be ...`


def validate_worker_options(config: ml_collections.ConfigDict, *, workers: str | None = None,
                            local_workers: int = 0) -> None:
    """Raises ValueError when `config` cannot run on TFF worker services (`--workers`,
    `--local_workers`): secure aggregation runs only in TFF's in-process secure-sum simulation.

    Entry points call it before `worker_session`, so no worker is started or contacted.
    """
    if config.aggregation.secure and (workers or local_workers):
        given = f"--workers={workers}" if workers else f"--local_workers={local_workers}"
        raise ValueError("config.aggregation.secure=True runs only in-process (TFF's secure-sum "
                         "simulation; worker services do not implement secure sums): expected no "
                         f"--workers / --local_workers; got {given}")
