"""Block and network diagrams drawn from the course's own modules, as SVG.

Each function takes a module of ``cnncourse.models`` (or builds the one the paper draws)
and returns a ``Diagram``: ``.svg`` (an ``<svg>`` element) and ``.alt`` (what it shows, in
words). The picture is read from the module itself (its ``forward``, traced with torch.fx,
its layers' kernel sizes, strides, groups and channels, and the shapes a dummy input
really takes), so it cannot drift from the code. In a notebook a ``Diagram`` displays
itself; ``myst_nb.glue("name", diagram, display=False)`` stores it for ``{glue:figure}``.

    from cnncourse.diagrams import residual_block
    from cnncourse.models.resnet import BasicBlock
    residual_block(BasicBlock(64, 128, stride=2), size=56)

Colours are the course palette (``cnncourse.palette``): light blue k x k convolutions, blue
1x1 convolutions, green depth-wise convolutions, orange pooling, purple fully connected
layers, yellow normalisation, white merges; every box also says in words what it is.
"""

from cnncourse.diagrams._svg import Diagram
from cnncourse.diagrams.blocks import (
    convnext_block,
    dense_block,
    inception_aux_head,
    inception_module,
    inverted_residual,
    mbconv,
    residual_block,
    resnext_block,
    separable_conv,
    shufflenet_unit,
)
from cnncourse.diagrams.networks import (
    alexnet_towers,
    googlenet_network,
    lenet5_pipeline,
    nas_child,
    neocognitron_cascade,
    vgg_network,
    vgg_stage,
)

__all__ = [
    "Diagram", "alexnet_towers", "convnext_block", "dense_block", "googlenet_network",
    "inception_aux_head", "inception_module", "inverted_residual", "lenet5_pipeline",
    "mbconv", "nas_child", "neocognitron_cascade", "residual_block", "resnext_block",
    "separable_conv", "shufflenet_unit", "vgg_network", "vgg_stage",
]
