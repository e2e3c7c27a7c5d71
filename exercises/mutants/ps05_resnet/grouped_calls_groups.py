# mutant: one F.conv2d with its groups argument, not separate paths
# replaces: grouped_solution
# loses: grouped_test, grouped_test_hidden
# message: it called torch.nn.functional.conv2d with groups=2
def split_transform_merge(x, weight, groups):
    """A grouped 3x3 convolution computed as ``groups`` separate paths."""
    return F.conv2d(x, weight, padding=1, groups=groups)
