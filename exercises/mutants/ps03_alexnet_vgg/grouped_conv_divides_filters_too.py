# mutant: divides the filters by groups as well
# replaces: grouped_conv_solution
# loses: grouped_conv_test, grouped_conv_test_hidden
# message: divide only the input channels
def grouped_conv_params(in_channels, out_channels, kernel, groups=1, bias=True):
    """Weights and biases of a convolution with ``groups`` groups."""
    weights = (out_channels // groups) * (in_channels // groups) * kernel * kernel
    return weights + (out_channels if bias else 0)


def grouped_conv_savings(in_channels, out_channels, kernel, groups):
    """Parameters saved by ``groups`` groups, compared with one group."""
    return (grouped_conv_params(in_channels, out_channels, kernel)
            - grouped_conv_params(in_channels, out_channels, kernel, groups))
