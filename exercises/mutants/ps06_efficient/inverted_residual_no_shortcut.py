# mutant: never adds the shortcut ("inverted residual" without the residual)
# replaces: inverted_residual_solution
# loses: inverted_residual_test, inverted_residual_test_hidden
# message: use the shortcut when stride == 1 and in_channels == out_channels
class InvertedResidual(nn.Module):
    """Expand (1x1), filter (depth-wise 3x3), project (1x1, linear), maybe add the input."""

    def __init__(self, in_channels, out_channels, stride, expand_ratio):
        super().__init__()
        hidden = in_channels * expand_ratio
        layers = []
        if expand_ratio != 1:
            layers += [nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                       nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, padding=1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(),
                   nn.Conv2d(hidden, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)
