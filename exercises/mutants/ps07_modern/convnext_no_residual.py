# mutant: returns the branch and forgets to add the input
# replaces: convnext_block_solution
# loses: convnext_block_test, convnext_block_test_hidden
# message: the block is residual
class ConvNeXtBlock(nn.Module):
    """Depth-wise 7x7, LayerNorm, Linear 4x, GELU, Linear back, layer scale, residual."""

    def __init__(self, channels, layer_scale=1e-6):
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.fc1 = nn.Linear(channels, 4 * channels)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * channels, channels)
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale))

    def forward(self, x):
        out = self.dwconv(x).permute(0, 2, 3, 1)  # (N, H, W, C)
        out = self.fc2(self.act(self.fc1(self.norm(out))))
        return (self.gamma * out).permute(0, 3, 1, 2)  # (N, C, H, W)
