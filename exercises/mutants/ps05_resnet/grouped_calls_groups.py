# mutant: one F.conv2d with its groups argument, not separate paths
# replaces: grouped_solution
# loses: grouped_test, grouped_test_hidden
# message: without the groups argument: it called torch.nn.functional.conv2d
def split_transform_merge(x, weight, groups):
    """A grouped 3x3 convolution computed as ``groups`` separate paths."""
    return F.conv2d(x, weight, padding=1, groups=groups)
