# mutant: keeps the batch norm after the depth-wise convolution but forgets its ReLU
# replaces: separable_conv_solution
# loses: separable_conv_test
# message: BN and ReLU after the depth-wise conv AND after the point-wise conv
class SeparableConv(nn.Module):
    """Depth-wise 3x3 conv, BN, ReLU, point-wise 1x1 conv, BN, ReLU."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride, padding=1,
                                   groups=in_channels, bias=False)
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.norm1(self.depthwise(x))
        return self.relu(self.norm2(self.pointwise(x)))
