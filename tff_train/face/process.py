"""The face trainer's federated process as configured: aggregation, attacks, secure runtime, DP ε.

`build_face_process(config, builder, num_clients)` turns `config.aggregation` and `config.faults`
into a `FaceProcess`: the TFF learning process, which clients are malicious, and how each round's
client data is presented to it (`client_data`). `execution_context()` is the runtime the process
must run in (TFF's test runtime for secure aggregation, else the default), and `privacy(rounds)`
the client-level (ε, δ) after that many rounds (None without DP).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import ml_collections
import numpy as np
import tensorflow as tf

from tff_train.aggregators.client_faults import (
    malicious_clients,
    poison_labels,
    update_multipliers,
    with_update_multipliers,
)
from tff_train.aggregators.options import build_model_aggregator
from tff_train.aggregators.privacy import compute_epsilon, default_delta, secure_simulation_context
from tff_train.face.input_pipeline import face_input_spec
from tff_train.face.loss import face_loss_builder, face_metrics_builder
from tff_train.learning.fed_avg import build_fed_avg
from tff_train.learning.optimizers import build_tff_optimizer

UPDATE_ATTACKS = ("sign_flip", "scale")


def aggregation_options(config: ml_collections.ConfigDict) -> dict:
    """The set `config.aggregation` keys as AggregationOptions fields (DP normalises by the
    configured clients per round)."""
    a = config.aggregation
    options = {k: a[k] for k in ("clip_norm", "dp_noise_multiplier", "robust",
                                 "quantization_bits") if a[k] is not None}
    if a.secure:
        options["secure"] = True
    if "robust" in options:
        options["trim_fraction"] = a.trim_fraction
    if "dp_noise_multiplier" in options:
        options["clients_per_round"] = config.train.clients_per_round
    return options


@dataclasses.dataclass(frozen=True)
class FaceProcess:
    """A configured FedAvg learning process plus its threat model."""

    process: Any  # tff.learning.templates.LearningProcess
    malicious_ids: np.ndarray  # int64[M], sorted client ids that attack
    attack: str | None  # None when no client is malicious
    attack_scale: float
    secure: bool
    noise_multiplier: float | None  # DP noise multiplier, None without DP
    sampling_rate: float  # clients_per_round / num_clients
    delta: float  # δ for the (ε, δ) report
    sampling: str = "uniform"  # how rounds draw clients (train.client_sampling)
    num_clients: int | None = None

    def client_data(self, datasets: Sequence[tf.data.Dataset], client_ids: Sequence[int]
                    ) -> list:
        """What `process.next` takes for these datasets (with multipliers for update attacks)."""
        if self.attack not in UPDATE_ATTACKS:
            return list(datasets)
        return with_update_multipliers(datasets, update_multipliers(
            client_ids, self.malicious_ids, self.attack, self.attack_scale))

    def poison(self, clients: list[tuple[np.ndarray, np.ndarray]], num_classes: int
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The training data as the clients see it: flipped labels for label-flip attackers."""
        if self.attack != "label_flip":
            return clients
        return poison_labels(clients, self.malicious_ids, num_classes)

    def with_client_learning_rate(self, state: Any, learning_rate: float) -> Any:
        """`state` with the clients' optimizer learning rate set (for the next rounds)."""
        hparams = self.process.get_hparams(state)
        hparams["client_work"]["learning_rate"] = np.float32(learning_rate)
        return self.process.set_hparams(state, hparams)

    def execution_context(self) -> contextlib.AbstractContextManager:
        """The TFF runtime for this process: the secure-sum simulation when secure, else none."""
        return secure_simulation_context() if self.secure else contextlib.nullcontext()

    def privacy(self, rounds: int) -> dict | None:
        """{epsilon, delta, noise_multiplier, sampling_rate, sampling, rounds} after `rounds` (the
        accountant matching `sampling`); None without DP."""
        if self.noise_multiplier is None:
            return None
        return {"epsilon": compute_epsilon(self.noise_multiplier, self.sampling_rate, rounds,
                                           self.delta, sampling=self.sampling,
                                           num_clients=self.num_clients),
                "delta": self.delta, "noise_multiplier": self.noise_multiplier,
                "sampling_rate": self.sampling_rate, "sampling": self.sampling,
                "rounds": rounds}


def build_face_process(config: ml_collections.ConfigDict,
                       model_builder: Callable[[], tf.keras.Model], num_clients: int
                       ) -> FaceProcess:
    """The configured process for `num_clients` clients (config validated by the trainer)."""
    if num_clients < 1:
        raise ValueError(f"num_clients must be >= 1; got {num_clients}")
    options = aggregation_options(config)
    aggregator, weighted = build_model_aggregator(options)
    t, f = config.train, config.faults
    malicious = malicious_clients(num_clients, f.malicious_fraction, config.seed)
    attack = f.attack if malicious.size else None
    process = build_fed_avg(
        model_builder,
        client_optimizer=build_tff_optimizer(t.client_optimizer, t.client_learning_rate,
                                             momentum=t.client_momentum),
        server_optimizer=build_tff_optimizer(t.server_optimizer, t.server_learning_rate,
                                             momentum=t.server_momentum),
        model_aggregator=aggregator, weighted=weighted,
        loss_builder=face_loss_builder(t.label_smoothing, t.prior_correction),
        metrics_builder=face_metrics_builder(t.prior_correction),
        input_spec=face_input_spec(t.prior_correction),
        client_update_multipliers=attack in UPDATE_ATTACKS,
        client_loop=t.client_loop,
    )
    delta = config.privacy.delta
    return FaceProcess(
        process=process, malicious_ids=malicious, attack=attack,
        attack_scale=float(f.attack_scale), secure=bool(options.get("secure", False)),
        noise_multiplier=options.get("dp_noise_multiplier"),
        sampling_rate=min(1.0, t.clients_per_round / num_clients),
        delta=default_delta(num_clients) if delta is None else float(delta),
        sampling=t.client_sampling, num_clients=num_clients)
