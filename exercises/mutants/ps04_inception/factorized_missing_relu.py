# mutant: no ReLU between the two convolutions
# replaces: factorized_conv_solution
# loses: factorized_conv_test, factorized_conv_test_hidden
# message: each followed by a ReLU
def factorized_conv(in_channels, out_channels, n):
    """1 x n conv, ReLU, n x 1 conv, ReLU; keeps the spatial size."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, (1, n), padding=(0, n // 2)),
        nn.Conv2d(out_channels, out_channels, (n, 1), padding=(n // 2, 0)), nn.ReLU())
