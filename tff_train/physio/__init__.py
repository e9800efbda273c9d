"""Federated forests on physiology: tasks, models, federated forest, trainer, reporting."""
