"""FER2013 client data: the evaluation splits reach the trainer exactly as they are on disk."""

from __future__ import annotations

import numpy as np

from configs import face_fer2013
from emodata.fer2013 import load_fer2013
from tests.emodata.test_fer2013 import write_fer_csv
from tff_train.face.data_loaders import load_fer2013_clients


def test_public_and_private_test_faces_are_unchanged(tmp_path):
    """Sharp checkerboards (any filtering would change the pixels at an edge) and constant faces:
    PublicTest and PrivateTest come out byte for byte as loaded, with their labels."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48]
    checker = np.where(((yy // 3) + (xx // 3)) % 2 == 0, 255, 0).astype(np.uint8)
    rows = []
    for i in range(40):
        image = checker if i % 2 else np.full((48, 48), int(rng.integers(0, 256)), np.uint8)
        usage = ("Training", "PublicTest", "PrivateTest")[i % 3] if i >= 20 else "Training"
        rows.append((i % 7, " ".join(map(str, image.ravel())), usage))
    csv = write_fer_csv(tmp_path / "data" / "fer2013.csv", rows)
    config = face_fer2013.get_config()
    config.data.data_root = str(csv.parent)
    config.data.cache_dir = str(tmp_path / "cache")
    config.partition.num_clients = 2
    data = load_fer2013_clients(config)
    loaded = load_fer2013(csv, use_cache=False)
    for split, (images, labels) in (("public_test", data.public_test),
                                    ("private_test", data.private_test)):
        expected = loaded.split(split)
        assert len(labels) > 0 and any((im == checker).all() for im in images), split
        np.testing.assert_array_equal(images, expected.images, err_msg=split)
        np.testing.assert_array_equal(labels, expected.labels, err_msg=split)
