"""Shared fixture: one 3000 x 2000 synthetic scene written in DOTA format and split once."""
from __future__ import annotations

import mmcv
import pytest

from paa_edu.data import (
    SYNTHETIC_CLASSES,
    SceneConfig,
    make_scene,
    split_dataset,
    write_label_file,
)

SCENE_SEED = 7
SCENE_SIZE = (2000, 3000)  # (H, W)


@pytest.fixture(scope="session")
def split_scene(tmp_path_factory):
    """Returns dict(src, dst, polys (M, 8), names, stats) for the split 3000 x 2000 scene."""
    root = tmp_path_factory.mktemp("split")
    config = SceneConfig(object_size=(10.0, 150.0), num_objects=(60, 60), parking_prob=1.0)
    image, polys, labels = make_scene(SCENE_SEED, SCENE_SIZE, config)
    names = [SYNTHETIC_CLASSES[i] for i in labels]
    mmcv.imwrite(image[..., ::-1], str(root / "src" / "images" / "P0001.png"))
    write_label_file(root / "src" / "labelTxt" / "P0001.txt", polys, names,
                     header={"imagesource": "synthetic", "gsd": "0.5"})
    stats = split_dataset(root / "src", root / "dst", progress=False)
    return {"root": root, "src": root / "src", "dst": root / "dst", "polys": polys,
            "names": names, "stats": stats}
