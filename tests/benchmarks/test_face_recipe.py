"""Face recipe benchmark: variants are overrides of the FER2013 config; fer's preprocessing."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.face_recipe import VARIANTS, variant_config
from benchmarks.fer_peer import fer_inputs


def test_variants_override_the_default_recipe():
    default = variant_config("stem32", 8, "/data", "")
    full = variant_config("full_resolution", 8, "/data", "")
    assert default.model.stem_width == 32 and full.model.stem_width == 0
    assert full.train.rounds == 8 and full.train.local_epochs == 1
    assert full.data.data_root == "/data"
    assert set(VARIANTS) >= {"stem32", "full_resolution"}


def test_unknown_variant_is_named():
    with pytest.raises(ValueError, match="--variants: unknown variant 'vgg99'; expected one of"):
        variant_config("vgg99", 8, "/data", "")


def test_fer_inputs_resize_and_scale_to_minus_one_one():
    images = np.zeros((2, 48, 48), np.uint8)
    images[1] = 255
    x = fer_inputs(images, 64, 64)
    assert x.shape == (2, 64, 64, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], -1.0)
    np.testing.assert_allclose(x[1], 1.0)
    with pytest.raises(ValueError, match=r"images must be uint8\[N,H,W\]; got float64"):
        fer_inputs(images.astype(float), 64, 64)


def test_partial_results_are_written_and_marked(tmp_path):
    import json

    from benchmarks.face_recipe import write_partial

    out = tmp_path / "sub" / "recipe.json"
    write_partial({"variants": {"stem32": {"federated_public_test_accuracy": 0.5}}}, str(out))
    written = json.loads(out.read_text())
    assert written["partial"] is True
    assert written["variants"]["stem32"]["federated_public_test_accuracy"] == 0.5
    write_partial({"variants": {}}, None)  # no --out: nothing to write, no error


def test_multiply_adds_counts_convolutions_and_dense_layers():
    import tensorflow as tf

    from benchmarks.face_recipe import multiply_adds

    inputs = tf.keras.Input((8, 8, 1))
    x = tf.keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 8*8*4 outputs x 3*3*1
    x = tf.keras.layers.Conv2D(2, 3, strides=2, padding="same")(x)  # 4*4*2 outputs x 3*3*4
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    outputs = tf.keras.layers.Dense(3)(x)  # 2*3
    model = tf.keras.Model(inputs, outputs)
    assert multiply_adds(model) == 8 * 8 * 4 * 9 + 4 * 4 * 2 * 36 + 6


def test_larger_variants_run_at_full_resolution_with_two_convs_per_block():
    vgg = variant_config("full_resolution_two_conv_width64", 8, "/data", "")
    assert vgg.model.stem_width == 0 and vgg.model.width == 64
    assert tuple(vgg.model.convs_per_block) == (2, 2, 2, 2)


def test_cost_only_refuses_the_training_modes():
    from benchmarks.face_recipe import check_modes

    check_modes(True, False, False)
    check_modes(False, True, True)
    with pytest.raises(ValueError, match="--cost_only trains nothing: it cannot go with "
                                         "--federated or --federated_only"):
        check_modes(True, True, False)
    with pytest.raises(ValueError, match="--cost_only trains nothing"):
        check_modes(True, False, True)
