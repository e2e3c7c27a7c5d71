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
from cnncourse.analysis.layers import (
    LayerRow,
    LayerTable,
    count_macs,
    count_parameters,
    layer_table,
)

__all__ = [
    "LayerRow",
    "LayerTable",
    "ReceptiveField",
    "conv_macs",
    "conv_output_size",
    "conv_params",
    "count_macs",
    "count_parameters",
    "depthwise_separable_macs",
    "layer_table",
    "linear_macs",
    "linear_params",
    "receptive_field",
]
