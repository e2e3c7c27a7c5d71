# mutant: forgets the batch norm
# replaces: transition_solution
# loses: transition_test
# message: a BatchNorm2d(8) (2 * 8)
class Transition(nn.Module):
    """BN, ReLU, 1x1 conv (compression), 2x2 average pool."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x):
        return self.pool(self.conv(self.relu(x)))
