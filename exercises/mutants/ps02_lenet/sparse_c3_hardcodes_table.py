# mutant: sizes fixed for Table I (60 kernels, 16 biases) whatever mask it is given
# replaces: sparse_c3_solution
# loses: sparse_c3_test_hidden
# message: derive the sizes from the mask you are given
class SparseC3(nn.Module):
    """A 5x5 convolution in which output map o reads only the input maps i with mask[o, i];
    one kernel per connection and one bias per output map."""

    def __init__(self, mask, kernel_size=5):
        super().__init__()
        out_index, in_index = mask.nonzero(as_tuple=True)
        self.register_buffer("out_index", out_index)
        self.register_buffer("in_index", in_index)
        self.out_maps, self.in_maps = mask.shape
        self.weight = nn.Parameter(torch.randn(60, 5, 5) * 0.1)
        self.bias = nn.Parameter(torch.zeros(16))

    def forward(self, x):
        dense = self.weight.new_zeros(self.out_maps, self.in_maps, 5, 5)
        n = len(self.out_index)
        dense = dense.index_put((self.out_index, self.in_index), self.weight[:n])
        return F.conv2d(x, dense, self.bias[:self.out_maps])
