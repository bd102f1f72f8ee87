"""The rotated PAA detector: ResNet-FPN backbone, RetinaNet head with IoU branch, inference."""
from paa_edu.model.backbone import FPN, ResNetFPN, build_resnet
from paa_edu.model.detector import RotatedPAADetector
from paa_edu.model.head import RotatedRetinaHead, permute_to_flat
from paa_edu.model.postprocess import postprocess_image, rescale_detections, score_voting

__all__ = ["FPN", "ResNetFPN", "build_resnet", "RotatedPAADetector", "RotatedRetinaHead",
           "permute_to_flat", "postprocess_image", "rescale_detections", "score_voting"]
