# mutant: shuffles the flattened pixels of each example, not the channels
# replaces: channel_shuffle_solution
# loses: channel_shuffle_test, channel_shuffle_test_hidden
# message: the shuffle moves channels, not pixels
def channel_shuffle(x, groups):
    """Interleave the channels of ``groups`` equal groups."""
    n = x.shape[0]
    return x.reshape(n, groups, -1).transpose(1, 2).reshape(x.shape)
