from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from emocore.face_preprocessing import scale_pixels
from tff_train.face.input_pipeline import augment_face, make_face_dataset, to_model_input
from tff_train.face.model import build_face_cnn


def test_cnn_shapes_and_edge_friendly_layers():
    model = build_face_cnn(width=4, depth=3, dense_units=8)
    out = model(np.zeros((2, 48, 48, 1), np.float32))
    assert out.shape == (2, 7)
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-5)
    allowed = (tf.keras.layers.InputLayer, tf.keras.layers.Conv2D,
               tf.keras.layers.BatchNormalization, tf.keras.layers.ReLU,
               tf.keras.layers.MaxPooling2D, tf.keras.layers.AveragePooling2D,
               tf.keras.layers.GlobalAveragePooling2D,
               tf.keras.layers.Dense, tf.keras.layers.Dropout, tf.keras.layers.Softmax)
    assert all(isinstance(layer, allowed) for layer in model.layers)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"width": 0}, "width must be >= 1; got 0"),
    ({"depth": 6}, r"depth must be in \[1, 5\]"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\); got 1.0"),
    ({"num_classes": 1}, "num_classes must be >= 2; got 1"),
    ({"depth": 3, "convs_per_block": (1, 2)},
     r"convs_per_block must be an int >= 1 or 3 \(depth\) of them; got \(1, 2\)"),
    ({"depth": 2, "convs_per_block": (1, 0)}, r"of them; got \(1, 0\)"),
])
def test_cnn_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_face_cnn(**kwargs)


def test_convs_per_block_counts_per_block_and_last_block_pooling():
    model = build_face_cnn(width=4, depth=4, stem_width=4, convs_per_block=(1, 1, 1, 2),
                           dense_units=0)
    convs = [layer.name for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert convs == ["stem_conv", "block0_conv0", "block1_conv0", "block2_conv0",
                     "block3_conv0", "block3_conv1"]
    assert model.get_layer("gap").input_shape == (None, 1, 1, 32)  # 3x3 max-pooled to 1x1
    averaged = build_face_cnn(width=4, depth=4, stem_width=4, convs_per_block=(1, 1, 1, 2),
                              pool_last_block=False, dense_units=0)
    assert averaged.get_layer("gap").input_shape == (None, 3, 3, 32)
    assert "block3_pool" not in [layer.name for layer in averaged.layers]
    # Same weights, and the averaged map sees the bottom-right of the last block's output.
    averaged.set_weights(model.get_weights())
    assert averaged.count_params() == model.count_params()
    x = np.random.default_rng(0).random((2, 48, 48, 1), np.float32)
    assert not np.allclose(model(x), averaged(x))


def test_augmentation_is_deterministic_bounded_and_actually_changes_images():
    image = to_model_input(np.random.default_rng(0).integers(0, 255, (1, 48, 48),
                                                             dtype=np.uint8))[0]
    seed = tf.constant([1, 2], tf.int32)
    a, b = augment_face(image, seed), augment_face(image, seed)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (48, 48, 1) and float(tf.reduce_min(a)) >= 0 and float(
        tf.reduce_max(a)) <= 1
    c = augment_face(image, tf.constant([3, 4], tf.int32))
    assert not np.allclose(a, c)
    assert not np.allclose(a, image)


def test_dataset_validates_inputs():
    good = np.zeros((4, 48, 48), np.uint8)
    message = r"images must be uint8\[N,48,48\]; got float64\[4, 48, 48\]"
    with pytest.raises(ValueError, match=message):
        make_face_dataset(good.astype(float), np.zeros(4), batch_size=2, seed=0)
    with pytest.raises(ValueError, match=r"labels must have shape \[4\]; got \[3\]"):
        make_face_dataset(good, np.zeros(3), batch_size=2, seed=0)
    with pytest.raises(ValueError, match="batch_size must be >= 1; got 0"):
        make_face_dataset(good, np.zeros(4), batch_size=0, seed=0)
    with pytest.raises(ValueError, match="images is empty"):
        make_face_dataset(good[:0], np.zeros(0), batch_size=2, seed=0)


def test_dataset_without_augmentation_keeps_pixels_and_labels_paired():
    images = np.stack([np.full((48, 48), i * 10, np.uint8) for i in range(6)])
    labels = np.arange(6)
    ds = make_face_dataset(images, labels, batch_size=4, seed=0, augment=False)
    xs, ys = zip(*ds.as_numpy_iterator(), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert sorted(y.tolist()) == list(range(6)) and y.tolist() != list(range(6))  # shuffled
    np.testing.assert_allclose(x[:, 0, 0, 0], y * 10 / 255.0, rtol=1e-6)


def test_training_input_scaling_is_the_cores_bit_for_bit():
    """The TF input pipeline feeds exactly what the converters and the edge compute with
    emocore.face_preprocessing (the edge FacePipeline, calibration images, preprocessing.json)."""
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    expected = scale_pixels(pixels[..., None])
    np.testing.assert_array_equal(to_model_input(pixels).numpy(), expected)
    ds = make_face_dataset(np.repeat(np.resize(pixels, (1, 48, 48)), 2, axis=0), np.zeros(2),
                           batch_size=2, seed=0, augment=False)
    x = next(ds.as_numpy_iterator())[0]
    np.testing.assert_array_equal(x[0], scale_pixels(np.resize(pixels, (48, 48))[..., None]))


def test_bfloat16_model_has_the_float32_twins_variables_and_close_outputs():
    fast = build_face_cnn(width=4, depth=2, dense_units=8, compute_dtype="bfloat16", seed=3)
    twin = build_face_cnn(width=4, depth=2, dense_units=8, compute_dtype="float32", seed=3)
    assert [w.shape for w in fast.weights] == [w.shape for w in twin.weights]
    assert all(w.dtype == tf.float32 for w in fast.weights)  # FedAvg carries float32 weights
    assert fast.get_layer("block0_conv0").compute_dtype == "bfloat16"
    twin.set_weights(fast.get_weights())
    x = np.random.default_rng(0).random((4, 48, 48, 1), dtype=np.float32)
    out_fast, out_twin = fast(x).numpy(), twin(x).numpy()
    assert out_fast.dtype == np.float32  # the softmax runs in float32
    np.testing.assert_allclose(out_fast, out_twin, atol=0.05)
    assert not np.array_equal(out_fast, out_twin)  # bfloat16 arithmetic really ran


def test_cnn_rejects_an_unknown_compute_dtype():
    with pytest.raises(ValueError, match=r"compute_dtype must be one of \['float32', "
                                         r"'bfloat16'\]; got 'float16'"):
        build_face_cnn(compute_dtype="float16")


def test_stride_two_stem_runs_the_blocks_on_a_24px_map():
    model = build_face_cnn(width=4, depth=4, stem_width=8, dense_units=0)
    assert model.get_layer("stem_conv").strides == (2, 2)
    assert model.get_layer("block0_conv0").output.shape[1:3] == (24, 24)
    assert model(np.zeros((1, 48, 48, 1), np.float32)).shape == (1, 7)
    with pytest.raises(ValueError, match="depth=5 halves a 24px map 5 times to nothing"):
        build_face_cnn(width=4, depth=5, stem_width=8)
    with pytest.raises(ValueError, match=r"stem_width must be >= 0 \(0 = no stem\); got -1"):
        build_face_cnn(stem_width=-1)


def test_no_normalization_drops_batchnorm_and_gives_convs_a_bias():
    model = build_face_cnn(width=4, depth=2, stem_width=4, normalization="none")
    assert not [layer for layer in model.layers
                if isinstance(layer, tf.keras.layers.BatchNormalization)]
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert len(convs) == 5 and all(layer.use_bias for layer in convs)
    with_bn = build_face_cnn(width=4, depth=2, stem_width=4)
    assert not any(layer.use_bias for layer in with_bn.layers
                   if isinstance(layer, tf.keras.layers.Conv2D))
    with pytest.raises(ValueError, match=r"normalization must be one of \['batch', 'group', "
                                         r"'none'\]; got 'layer'"):
        build_face_cnn(normalization="layer")


def test_group_normalization_normalises_each_image_over_channel_groups():
    model = build_face_cnn(width=4, depth=2, stem_width=4, normalization="group", norm_groups=2,
                           dense_units=0, dropout=0.0)
    norms = [layer for layer in model.layers
             if isinstance(layer, tf.keras.layers.GroupNormalization)]
    assert len(norms) == 5 and all(layer.groups == 2 for layer in norms)  # stem + 2x2 convs
    assert not [layer for layer in model.layers
                if isinstance(layer, tf.keras.layers.BatchNormalization)]
    # No batch statistics: an image's output does not depend on the rest of its batch, in
    # training mode too (BatchNorm's would).
    x = np.random.default_rng(0).random((4, 48, 48, 1)).astype(np.float32)
    together = model(x, training=True).numpy()
    alone = model(x[:1], training=True).numpy()
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"norm_groups must be >= 1 and divide every conv's "
                                         r"channels \[4, 4, 8\]; got 3"):
        build_face_cnn(width=4, depth=2, stem_width=4, normalization="group", norm_groups=3)


def test_auto_compute_dtype_is_bfloat16_only_where_the_cpu_has_it():
    from tff_train.face.model import cpu_has_fast_bfloat16, resolve_compute_dtype

    avx2_only = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n"
    with_bf16 = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n"
    assert not cpu_has_fast_bfloat16(avx2_only) and cpu_has_fast_bfloat16(with_bf16)
    assert cpu_has_fast_bfloat16("flags : amx_bf16 amx_tile\n")
    assert resolve_compute_dtype("auto", avx2_only) == "float32"
    assert resolve_compute_dtype("auto", with_bf16) == "bfloat16"
    assert resolve_compute_dtype("bfloat16", avx2_only) == "bfloat16"  # explicit wins
    with pytest.raises(ValueError, match=r"compute_dtype must be one of \['auto', 'float32', "
                                         r"'bfloat16'\]; got 'half'"):
        resolve_compute_dtype("half")
