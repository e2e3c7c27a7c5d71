# mutant: no BN and ReLU between the depth-wise and the point-wise convolution (Xception's way)
# replaces: separable_conv_solution
# loses: separable_conv_test
# message: parameters: expected 92, got 84
class SeparableConv(nn.Module):
    """Depth-wise 3x3 conv, BN, ReLU, point-wise 1x1 conv, BN, ReLU."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride, padding=1,
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.norm2(self.pointwise(self.depthwise(x))))
