# mutant: fc1 has `reduction` outputs instead of channels // reduction
# replaces: se_block_solution
# loses: se_block_test, se_block_test_hidden
# message: not to reduction = 16
class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc1 = nn.Linear(channels, reduction)
        self.fc2 = nn.Linear(reduction, channels)

    def forward(self, x):
        s = x.mean(dim=(2, 3))
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s[:, :, None, None]
