"""The core shared by training, conversion and the head unit: numpy (+ absl for the CLI helpers),
never TensorFlow.

label_spaces, quantization, face_preprocessing, physio (window features, features.json),
calibration (per-driver baselines), fusion (config / strategies / engine), and the entry points'
cli (one-line errors, exit codes) and cli_output (quiet library output).
"""
