# mutant: pads the 5x5 convolution by 1, so its branch shrinks and the concatenation fails
# replaces: inception_module_solution
# loses: inception_module_test, inception_module_test_hidden
# message: pad the 3x3 by 1 and the 5x5 by 2
class InceptionModule(nn.Module):
    """GoogLeNet's inception module: four branches concatenated along the channels."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()

        def conv(c_in, c_out, k, relu=True, padding=None):
            pad = k // 2 if padding is None else padding
            return [nn.Conv2d(c_in, c_out, k, padding=pad)] + ([nn.ReLU()] if relu else [])

        self.branch1 = nn.Sequential(*conv(in_channels, ch1x1, 1))
        self.branch2 = nn.Sequential(*conv(in_channels, ch3x3red, 1), *conv(ch3x3red, ch3x3, 3))
        self.branch3 = nn.Sequential(*conv(in_channels, ch5x5red, 1),
                                     *conv(ch5x5red, ch5x5, 5, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                     *conv(in_channels, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)],
                         dim=1)
