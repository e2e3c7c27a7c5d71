"""Published ImageNet-1k top-1 accuracies of the course's models, as data with their sources.

The course trains nothing on ImageNet, so accuracies are facts to cite, not to measure. Each
entry says where the number was published (a key of ``references.bib`` and the table or
weights it comes from) and how it was evaluated, because the protocols differ:

- ``"1 crop"``: one centre crop of the validation image at the model's input size (the
  torchvision weights: resize to 256 (342 for Inception v3), crop 224 (299)); the fairest
  comparison between models;
- ``"10 crops"``: the average over the four corners, the centre and their mirror images
  (AlexNet, ZFNet), worth one to two points over one crop;
- ``"1 crop, fine-tuned"``: ConvNeXt V2, pre-trained on ImageNet-1k images without labels
  (FCMAE, a masked autoencoder) and then fine-tuned on ImageNet-1k, one crop of 224: a
  different training recipe from the others, worth keeping apart in a comparison.

Where torchvision publishes weights for the same architecture as the course's builder, its
one-crop number is used (one training code, one protocol); otherwise the paper's own (or its
authors' official repository). Registered models without an entry: ``nin`` (its paper
reports no ImageNet accuracy), ``googlenet`` (its paper reports top-5 only),
``convnext_xlarge`` (reported only after ImageNet-22k pre-training), and variants whose
papers report them under protocols not entered here or not at all (``alexnet``,
``alexnet_owt_paper``, ``vgg11_lrn``, ``vgg16_c``, ``vgg16_c_bn``, ``densenet264``).
"""

from __future__ import annotations

from dataclasses import dataclass

TORCHVISION = "torchvision2016models"


@dataclass(frozen=True)
class PublishedAccuracy:
    """top1: ImageNet-1k validation top-1 accuracy in percent. source: BibTeX key.
    where: the table (or weights) in the source. protocol: how it was evaluated."""

    top1: float
    source: str
    where: str
    protocol: str = "1 crop"


def _tv(top1: float, weights: str) -> PublishedAccuracy:
    return PublishedAccuracy(top1, TORCHVISION, f"{weights}_Weights.IMAGENET1K_V1")


PUBLISHED_TOP1: dict[str, PublishedAccuracy] = {
    "alexnet_owt": _tv(56.522, "AlexNet"),
    "alexnet2012": PublishedAccuracy(59.3, "krizhevsky2012imagenet",
                                     "Table 2, 1 CNN: 40.7% top-1 error", "10 crops"),
    "zfnet": PublishedAccuracy(61.6, "zeiler2014visualizing",
                               "Table 2, 1 convnet as per Fig. 3: 38.4% top-1 error",
                               "10 crops"),
    "vgg11": _tv(69.020, "VGG11"),
    "vgg13": _tv(69.928, "VGG13"),
    "vgg16": _tv(71.592, "VGG16"),
    "vgg19": _tv(72.376, "VGG19"),
    "vgg11_bn": _tv(70.370, "VGG11_BN"),
    "vgg13_bn": _tv(71.586, "VGG13_BN"),
    "vgg16_bn": _tv(73.360, "VGG16_BN"),
    "vgg19_bn": _tv(74.218, "VGG19_BN"),
    "googlenet_bn": _tv(69.778, "GoogLeNet"),  # torchvision's GoogLeNet has BN, no LRN
    "inception_v3": _tv(77.294, "Inception_V3"),
    "resnet18": _tv(69.758, "ResNet18"),
    "resnet34": _tv(73.314, "ResNet34"),
    "resnet50": _tv(76.130, "ResNet50"),
    "resnet101": _tv(77.374, "ResNet101"),
    "resnet152": _tv(78.312, "ResNet152"),
    "resnext50_32x4d": _tv(77.618, "ResNeXt50_32X4D"),
    "wide_resnet50_2": _tv(78.468, "Wide_ResNet50_2"),
    "se_resnet50": PublishedAccuracy(76.71, "hu2018squeeze",
                                     "Table 2, SE-ResNet-50: 23.29% top-1 error"),
    "densenet121": _tv(74.434, "DenseNet121"),
    "densenet169": _tv(75.600, "DenseNet169"),
    "densenet201": _tv(76.896, "DenseNet201"),
    "mobilenet_v1": PublishedAccuracy(70.6, "howard2017mobilenets",
                                      "Table 8, 1.0 MobileNet-224"),
    "mobilenet_v2": _tv(71.878, "MobileNet_V2"),
    "shufflenet_v2_x0_5": _tv(60.552, "ShuffleNet_V2_X0_5"),
    "shufflenet_v2_x1_0": _tv(69.362, "ShuffleNet_V2_X1_0"),
    "xception": PublishedAccuracy(79.0, "chollet2017xception", "Table 1, Xception (299x299)"),
    "efficientnet_b0": _tv(77.692, "EfficientNet_B0"),
    "efficientnet_b1": _tv(78.642, "EfficientNet_B1"),
    "efficientnet_b2": _tv(80.608, "EfficientNet_B2"),
    "efficientnet_b3": _tv(82.008, "EfficientNet_B3"),
    "efficientnet_b4": _tv(83.384, "EfficientNet_B4"),
    "efficientnet_b5": _tv(83.444, "EfficientNet_B5"),
    "efficientnet_b6": _tv(84.008, "EfficientNet_B6"),
    "efficientnet_b7": _tv(84.122, "EfficientNet_B7"),
    "convnext_tiny": _tv(82.520, "ConvNeXt_Tiny"),
    "convnext_small": _tv(83.616, "ConvNeXt_Small"),
    "convnext_base": _tv(84.062, "ConvNeXt_Base"),
    "convnext_large": _tv(84.414, "ConvNeXt_Large"),
    **{f"convnextv2_{size}": PublishedAccuracy(
        top1, "woo2023convnext", "ImageNet-1K fine-tuned models, 224x224 (the authors' "
        "repository facebookresearch/ConvNeXt-V2; the paper's model-scaling results)",
        "1 crop, fine-tuned")
       for size, top1 in (("atto", 76.7), ("femto", 78.5), ("pico", 80.3), ("nano", 81.9),
                          ("tiny", 83.0), ("base", 84.9), ("large", 85.8), ("huge", 86.3))},
}


def published_top1(name: str) -> float | None:
    """The published top-1 accuracy (percent) of a registered model, or None if none is cited."""
    entry = PUBLISHED_TOP1.get(name)
    return entry.top1 if entry else None
