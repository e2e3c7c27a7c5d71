# mutant: the stride on the 1x1 conv: same output, but the depth-wise conv filters every pixel
# replaces: separable_conv_solution
# loses: separable_conv_test
# message: the stride belongs on the depth-wise 3x3 conv, not on the 1x1
class SeparableConv(nn.Module):
    """Depth-wise 3x3 conv, BN, ReLU, point-wise 1x1 conv, BN, ReLU."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels,
                                   bias=False)
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.relu(self.norm1(self.depthwise(x)))
        return self.relu(self.norm2(self.pointwise(x)))
