"""The numpy-only core shared by training, conversion and the head unit (never imports TensorFlow).

label_spaces, quantization, face_preprocessing, physio (window features, features.json),
calibration (per-driver baselines) and fusion (config / strategies / engine).
"""
