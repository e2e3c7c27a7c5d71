# mutant: squeeze-and-excitation squeezes to a quarter of the expanded channels
# replaces: mbconv_solution
# loses: mbconv_test, mbconv_test_hidden
# message: a quarter of the block's INPUT channels
class MBConv(nn.Module):
    """Expand (1x1), depth-wise (k x k), squeeze-and-excitation, project (1x1), maybe add."""

    def __init__(self, in_channels, out_channels, kernel, stride, expand):
        super().__init__()
        hidden = in_channels * expand
        squeeze = max(1, hidden // 4)
        self.use_residual = stride == 1 and in_channels == out_channels
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                       nn.SiLU()]
        layers += [nn.Conv2d(hidden, hidden, kernel, stride, padding=kernel // 2,
                             groups=hidden, bias=False), nn.BatchNorm2d(hidden), nn.SiLU()]
        self.features = nn.Sequential(*layers)
        self.se_reduce = nn.Conv2d(hidden, squeeze, 1)
        self.se_expand = nn.Conv2d(squeeze, hidden, 1)
        self.project = nn.Sequential(nn.Conv2d(hidden, out_channels, 1, bias=False),
                                     nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = self.features(x)
        s = out.mean(dim=(2, 3), keepdim=True)
        s = torch.sigmoid(self.se_expand(nn.functional.silu(self.se_reduce(s))))
        out = self.project(out * s)
        return x + out if self.use_residual else out
