# mutant: an n x n convolution followed by a 1 x 1, not a factorisation
# replaces: factorized_conv_solution
# loses: factorized_conv_test, factorized_conv_test_hidden
# message: a full
def factorized_conv(in_channels, out_channels, n):
    """1 x n conv, ReLU, n x 1 conv, ReLU; keeps the spatial size."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, n, padding=n // 2), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU())
