# mutant: slices the filters by the input width per path
# replaces: grouped_solution
# loses: grouped_test_hidden
# message: sliced by the OUTPUT channels
def split_transform_merge(x, weight, groups):
    """A grouped 3x3 convolution computed as ``groups`` separate paths."""
    c_in, c_out = x.shape[1] // groups, weight.shape[0] // groups
    paths = [F.conv2d(x[:, g * c_in:(g + 1) * c_in], weight[g * c_in:(g + 1) * c_in],
                      padding=1)
             for g in range(groups)]
    return torch.cat(paths, dim=1)
