# mutant: the lectures' slip: the depth-wise part counted at the input size, not the output's
# replaces: separable_cost_solution
# loses: separable_cost_test, separable_cost_test_hidden
# message: both parts run at every one of the out_h * out_w output positions
def separable_cost(in_channels, out_channels, kernel, out_h, out_w):
    """(params, macs) of a depth-wise k x k plus a point-wise 1x1 convolution, no biases."""
    params = in_channels * kernel * kernel + in_channels * out_channels
    in_h, in_w = out_h + kernel - 1, out_w + kernel - 1   # the input of a "valid" convolution
    macs = in_channels * kernel * kernel * in_h * in_w + in_channels * out_channels * out_h * out_w
    return params, macs
