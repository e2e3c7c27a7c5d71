"""Conv arithmetic in closed form and per-layer cost tables measured on real modules."""

from cnncourse.analysis.arithmetic import (
    ReceptiveField,
    conv_macs,
    conv_output_size,
    conv_params,
    depthwise_separable_macs,
    linear_macs,
    linear_params,
    receptive_field,
)

__all__ = [
    "ReceptiveField",
    "conv_macs",
    "conv_output_size",
    "conv_params",
    "depthwise_separable_macs",
    "linear_macs",
    "linear_params",
    "receptive_field",
]
