"""DOTA-format data (``images/*.png`` + ``labelTxt/*.txt``): label files, patch splitting and
merging, the synthetic benchmark (in the same format), the torch dataset, transforms, loader."""
from paa_edu.data.dataset import DOTADataset
from paa_edu.data.dota import (
    DOTA_CLASSES,
    LabelFile,
    list_images,
    parse_label_file,
    read_label_file,
    write_dota_sample,
    write_label_file,
)
from paa_edu.data.loader import collate_batch
from paa_edu.data.merge import (
    PatchName,
    check_image_name,
    merge_patch_detections,
    parse_patch_name,
    write_task1_submission,
)
from paa_edu.data.split import SplitStats, patch_name, split_dataset, split_image, window_starts
from paa_edu.data.synthetic import (
    PRESETS,
    SYNTHETIC_CLASSES,
    SceneConfig,
    SyntheticPreset,
    make_preset_scene,
    make_scene,
)
from paa_edu.data.synthetic_writer import write_synthetic_dataset
from paa_edu.data.transforms import TransformConfig, apply_transforms, flip_boxes

__all__ = [
    "DOTADataset", "collate_batch", "DOTA_CLASSES", "LabelFile", "list_images", "parse_label_file",
    "read_label_file", "write_dota_sample", "write_label_file", "PatchName", "check_image_name",
    "merge_patch_detections", "parse_patch_name", "write_task1_submission", "SplitStats",
    "patch_name", "split_dataset", "split_image", "window_starts", "PRESETS", "SYNTHETIC_CLASSES",
    "SceneConfig", "SyntheticPreset", "make_preset_scene", "make_scene", "write_synthetic_dataset",
    "TransformConfig", "apply_transforms", "flip_boxes"]
