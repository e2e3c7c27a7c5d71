# mutant: a dense (16, 6, 5, 5) weight multiplied by the mask: right outputs, 2,416 parameters
# replaces: sparse_c3_solution
# loses: sparse_c3_test, sparse_c3_test_hidden
# message: a dense weight multiplied by the mask still holds
class SparseC3(nn.Module):
    """A 5x5 convolution in which output map o reads only the input maps i with mask[o, i];
    one kernel per connection and one bias per output map."""

    def __init__(self, mask, kernel_size=5):
        super().__init__()
        out_maps, in_maps = mask.shape
        self.register_buffer("mask", mask.float().view(out_maps, in_maps, 1, 1))
        self.weight = nn.Parameter(torch.randn(out_maps, in_maps, kernel_size, kernel_size) * 0.1)
        self.bias = nn.Parameter(torch.zeros(out_maps))

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias)
