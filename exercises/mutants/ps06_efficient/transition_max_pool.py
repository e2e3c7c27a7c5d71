# mutant: max pooling instead of average pooling
# replaces: transition_solution
# loses: transition_test
# message: average pooling, not max pooling
class Transition(nn.Module):
    """BN, ReLU, 1x1 conv (compression), 2x2 average pool."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x):
        return self.pool(self.conv(self.relu(self.norm(x))))
