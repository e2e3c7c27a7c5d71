# mutant: C3 as an ordinary full convolution; the mask is ignored
# replaces: sparse_c3_solution
# loses: sparse_c3_test, sparse_c3_test_hidden
# message: expected 1,516 trainable parameters, got 2,416
class SparseC3(nn.Module):
    """A 5x5 convolution in which output map o reads only the input maps i with mask[o, i];
    one kernel per connection and one bias per output map."""

    def __init__(self, mask, kernel_size=5):
        super().__init__()
        self.conv = nn.Conv2d(mask.shape[1], mask.shape[0], kernel_size)

    def forward(self, x):
        return self.conv(x)
