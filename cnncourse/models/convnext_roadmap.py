"""The road from ResNet-50 to ConvNeXt-T (Liu et al. 2022, Section 2 and Figure 2), in code.

Paper: Z. Liu, H. Mao, C.-Y. Wu, C. Feichtenhofer, T. Darrell, S. Xie. "A ConvNet for the
2020s." arXiv:2201.03545, CVPR 2022. ``ROADMAP`` holds its steps in order, each a ``Design``
that differs from the one before by one field; ``RoadmapNet`` builds any of them.
``FIGURE2_GFLOPS`` is the cost the paper gives after each step (Figure 2 and Section 2), in
billions of multiply-adds at 224x224, for comparing with the counts computed here.

The paper publishes the end points (torchvision's ``resnet50``, 25,557,032 parameters, and
ConvNeXt-T, 28,589,128) but not the networks in between. Reconstruction choices, and why:
- ResNet-50 is torchvision's (v1.5: the stride on the 3x3 convolution, projection
  shortcuts where the shape changes), the network the paper starts from.
- "Wider" sets the bottleneck (3x3) width of the four stages to 96 ... 768, so a ResNeXt
  block's output is 4x that; from "inverted bottleneck" on, the widths are the block's input
  and output and the hidden width is 4x. The patchify stem outputs 64 channels until the
  blocks are inverted, then the first stage's width.
- When the depth-wise convolution moves up, it runs on the block's input channels (with the
  block's stride in the first block of a stage) and the first 1x1 expands.
- "Fewer norms" keeps one norm per block, after its first convolution (the depth-wise one);
  the norm on a projection shortcut and the stem's norm stay.
- With "LayerNorm" every convolution gets a bias (BatchNorm had made it redundant), LayerNorm
  acts on the channels at each position, and a LayerNorm comes before the classifier, as in
  ConvNeXt.
- "Separate down-sampling" is LayerNorm + a 2x2 stride-2 convolution before stages 2-4; the
  first block of those stages then has stride 1 and no projection shortcut.
- The last step, layer scale (a per-channel factor starting at 1e-6), is not one of Figure 2's
  steps: the paper lists it with the training techniques. We add it so that the road ends
  exactly at ``convnext_tiny``'s parameter count.
- Stochastic depth is left out: it has no parameters and no cost at inference.
With these choices the computed costs are within 0.12 GFLOPs of every figure the paper
gives (``tests/test_models_convnext.py`` pins this).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from cnncourse.models.convnext import LayerNorm2d


@dataclass(frozen=True)
class Design:
    """One point on the paper's road from ResNet-50 to ConvNeXt-T (its Figure 2).

    ``widths`` are the block widths of the four stages: the bottleneck (3x3) width of a
    ResNet block, or the in/out width of an inverted block (whose hidden width is 4x).
    """

    depths: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    patchify: bool = False          # 4x4 stride-4 stem instead of 7x7 conv + max pool
    depthwise: bool = False         # groups = channels in the spatial convolution
    inverted: bool = False          # thin -> 4x wide -> thin instead of wide -> thin -> wide
    spatial_first: bool = False     # the depth-wise conv moved to the top of the block
    kernel: int = 3
    gelu: bool = False
    fewer_activations: bool = False  # one activation per block, between the 1x1 convs
    fewer_norms: bool = False       # one norm per block, after the spatial conv
    layer_norm: bool = False        # LayerNorm instead of BatchNorm (convs then carry biases)
    separate_downsampling: bool = False  # LN + 2x2 stride-2 conv between stages
    layer_scale: bool = False


def _design_steps() -> dict[str, Design]:
    steps: dict[str, Design] = {"ResNet-50": Design()}
    changes = [
        ("stage ratio 3:3:9:3", {"depths": (3, 3, 9, 3)}),
        ('"patchify" stem', {"patchify": True}),
        ("depth-wise conv", {"depthwise": True}),
        ("wider (96 channels)", {"widths": (96, 192, 384, 768)}),
        ("inverted bottleneck", {"inverted": True}),
        ("depth-wise conv moved up", {"spatial_first": True}),
        ("7x7 kernel", {"kernel": 7}),
        ("GELU", {"gelu": True}),
        ("fewer activations", {"fewer_activations": True}),
        ("fewer norms", {"fewer_norms": True}),
        ("LayerNorm", {"layer_norm": True}),
        ("separate down-sampling", {"separate_downsampling": True}),
        ("layer scale (ConvNeXt-T)", {"layer_scale": True}),
    ]
    design = steps["ResNet-50"]
    for name, change in changes:
        design = replace(design, **change)
        steps[name] = design
    return steps


ROADMAP: dict[str, Design] = _design_steps()

# The paper's GFLOPs (billions of multiply-adds, 224x224) after the steps it gives them for.
FIGURE2_GFLOPS: dict[str, float] = {
    "ResNet-50": 4.1, "stage ratio 3:3:9:3": 4.5, '"patchify" stem': 4.4,
    "depth-wise conv": 2.4, "wider (96 channels)": 5.3, "inverted bottleneck": 4.6,
    "depth-wise conv moved up": 4.1, "7x7 kernel": 4.2, "separate down-sampling": 4.5,
}


class _RoadBlock(nn.Module):
    """A residual block anywhere between ResNet's bottleneck and ConvNeXt's block."""

    def __init__(self, d: Design, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        out_channels = width if d.inverted else 4 * width
        hidden = 4 * width if d.inverted else width
        spatial_channels = in_channels if d.spatial_first else hidden

        def norm(c: int) -> nn.Module:
            return LayerNorm2d(c, eps=1e-6) if d.layer_norm else nn.BatchNorm2d(c)

        def act() -> nn.Module:
            return nn.GELU() if d.gelu else nn.ReLU(inplace=True)

        def spatial(c_in: int, c_out: int) -> nn.Conv2d:
            return nn.Conv2d(c_in, c_out, d.kernel, stride, padding=d.kernel // 2,
                             groups=c_out if d.depthwise else 1, bias=d.layer_norm)

        if d.spatial_first:
            convs = [spatial(spatial_channels, spatial_channels),
                     nn.Conv2d(spatial_channels, hidden, 1, bias=d.layer_norm),
                     nn.Conv2d(hidden, out_channels, 1, bias=d.layer_norm)]
        else:
            convs = [nn.Conv2d(in_channels, hidden, 1, bias=d.layer_norm),
                     spatial(hidden, hidden),
                     nn.Conv2d(hidden, out_channels, 1, bias=d.layer_norm)]
        layers: list[nn.Module] = []
        for i, conv in enumerate(convs):
            layers.append(conv)
            if not d.fewer_norms or i == 0:
                layers.append(norm(conv.out_channels))
            last = i == len(convs) - 1
            if not last and (not d.fewer_activations or i == 1):
                layers.append(act())
        self.branch = nn.Sequential(*layers)
        self.gamma = nn.Parameter(torch.full((out_channels, 1, 1), 1e-6)) if d.layer_scale else None
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=d.layer_norm),
                norm(out_channels))
        self.final_act = nn.Identity() if d.fewer_activations else act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        if self.gamma is not None:
            out = self.gamma * out
        return self.final_act(self.shortcut(x) + out)


class RoadmapNet(nn.Module):
    """The network of one ``Design``: ResNet-50 at the start of the road, ConvNeXt-T at its end
    (same parameter count as ``convnext_tiny``)."""

    def __init__(self, d: Design, num_classes: int = 1000, stem_channels: int = 64,
                 patch: int = 4) -> None:
        """``stem_channels``: the stem's width until the blocks are inverted (ResNet-50's
        64); ``patch``: the stem's total stride, 4 as in both papers. A smaller road (the
        lab's, on 16x16 images) takes ``patch=2``: a 2x2 stride-2 patchify stem, and as
        ResNet's stem a (2p-1)x(2p-1) convolution of stride p/2 and the 3x3 stride-2 max
        pool (p = 4: ResNet's 7x7 stride-2 convolution)."""
        super().__init__()
        resnet_stem_channels = stem_channels
        stem_channels = d.widths[0] if d.inverted else stem_channels
        norm = (lambda c: LayerNorm2d(c, eps=1e-6)) if d.layer_norm else nn.BatchNorm2d
        if d.patchify:
            self.stem = nn.Sequential(
                nn.Conv2d(3, stem_channels, patch, patch, bias=d.layer_norm),
                norm(stem_channels))
        else:
            stem_channels = resnet_stem_channels
            self.stem = nn.Sequential(
                nn.Conv2d(3, stem_channels, 2 * patch - 1, patch // 2, patch - 1, bias=False),
                nn.BatchNorm2d(stem_channels), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages: list[nn.Module] = []
        channels = stem_channels
        for i, (depth, width) in enumerate(zip(d.depths, d.widths, strict=True)):
            out_channels = width if d.inverted else 4 * width
            layers: list[nn.Module] = []
            stride = 2 if i > 0 else 1
            if d.separate_downsampling and i > 0:
                layers.append(nn.Sequential(norm(channels),
                                            nn.Conv2d(channels, out_channels, 2, 2)))
                channels, stride = out_channels, 1
            for j in range(depth):
                layers.append(_RoadBlock(d, channels, width, stride if j == 0 else 1))
                channels = out_channels
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(channels, eps=1e-6) if d.layer_norm else nn.Identity()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(self.norm(x.mean(dim=(2, 3))))
