# mutant: path g reads every groups-th input channel
# replaces: grouped_solution
# loses: grouped_test, grouped_test_hidden
# message: not every groups-th channel
def split_transform_merge(x, weight, groups):
    """A grouped 3x3 convolution computed as ``groups`` separate paths."""
    c_in, c_out = x.shape[1] // groups, weight.shape[0] // groups
    paths = [F.conv2d(x[:, g::groups], weight[g * c_out:(g + 1) * c_out],
                      padding=1)
             for g in range(groups)]
    return torch.cat(paths, dim=1)
