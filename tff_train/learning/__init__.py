"""Generic federated learning: the one FedAvg builder, the one rounds loop, checkpoints, metrics."""
