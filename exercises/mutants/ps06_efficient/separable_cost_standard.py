# mutant: the cost of a standard convolution
# replaces: separable_cost_solution
# loses: separable_cost_test, separable_cost_test_hidden
# message: a standard convolution
def separable_cost(in_channels, out_channels, kernel, out_h, out_w):
    """(params, macs) of a depth-wise k x k plus a point-wise 1x1 convolution, no biases."""
    params = in_channels * out_channels * kernel * kernel
    return params, params * out_h * out_w
