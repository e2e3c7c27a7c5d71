# mutant: gives the depth-wise conv in_channels filters of in_channels x k x k (a full conv)
# replaces: separable_cost_solution
# loses: separable_cost_test, separable_cost_test_hidden
# message: one k x k filter per channel, not in_channels of them
def separable_cost(in_channels, out_channels, kernel, out_h, out_w):
    """(params, macs) of a depth-wise k x k plus a point-wise 1x1 convolution, no biases."""
    params = in_channels * in_channels * kernel * kernel + in_channels * out_channels
    macs = params * out_h * out_w
    return params, macs
