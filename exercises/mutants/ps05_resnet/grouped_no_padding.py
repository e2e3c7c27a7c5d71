# mutant: the paths' convolutions without padding
# replaces: grouped_solution
# loses: grouped_test, grouped_test_hidden
# message: padding=1, which keeps H and W
def split_transform_merge(x, weight, groups):
    """A grouped 3x3 convolution computed as ``groups`` separate paths."""
    c_in, c_out = x.shape[1] // groups, weight.shape[0] // groups
    paths = [F.conv2d(x[:, g * c_in:(g + 1) * c_in], weight[g * c_out:(g + 1) * c_out])
             for g in range(groups)]
    return torch.cat(paths, dim=1)
