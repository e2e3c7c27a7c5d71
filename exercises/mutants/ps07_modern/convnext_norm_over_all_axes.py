# mutant: normalises each sample over all of (C, H, W) (GroupNorm with one group)
# replaces: convnext_block_solution
# loses: convnext_block_test, convnext_block_test_hidden
# message: at each position (H, W) on its own
class ConvNeXtBlock(nn.Module):
    """Depth-wise 7x7, LayerNorm, Linear 4x, GELU, Linear back, layer scale, residual."""

    def __init__(self, channels, layer_scale=1e-6):
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.GroupNorm(1, channels, eps=1e-6)
        self.fc1 = nn.Conv2d(channels, 4 * channels, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(4 * channels, channels, 1)
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), layer_scale))

    def forward(self, x):
        out = self.norm(self.dwconv(x))
        out = self.fc2(self.act(self.fc1(out)))
        return x + self.gamma * out
