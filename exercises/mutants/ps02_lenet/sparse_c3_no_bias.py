# mutant: one kernel per connection but no biases (1,500 parameters)
# replaces: sparse_c3_solution
# loses: sparse_c3_test, sparse_c3_test_hidden
# message: each C3 map has a bias too
class SparseC3(nn.Module):
    """A 5x5 convolution in which output map o reads only the input maps i with mask[o, i];
    one kernel per connection and one bias per output map."""

    def __init__(self, mask, kernel_size=5):
        super().__init__()
        out_index, in_index = mask.nonzero(as_tuple=True)
        self.register_buffer("out_index", out_index)
        self.register_buffer("in_index", in_index)
        self.out_maps, self.in_maps = mask.shape
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.randn(len(out_index), kernel_size, kernel_size) * 0.1)

    def forward(self, x):
        k = self.kernel_size
        dense = self.weight.new_zeros(self.out_maps, self.in_maps, k, k)
        dense = dense.index_put((self.out_index, self.in_index), self.weight)
        return F.conv2d(x, dense)
