"""The federated face CNN: config, model, loss, tf.data input, loaders, process, trainer."""
