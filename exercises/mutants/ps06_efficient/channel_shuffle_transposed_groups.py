# mutant: views the channels as (channels // groups, groups): the inverse shuffle
# replaces: channel_shuffle_solution
# loses: channel_shuffle_test, channel_shuffle_test_hidden
# message: view the channels as (groups, channels // groups)
def channel_shuffle(x, groups):
    """Interleave the channels of ``groups`` equal groups."""
    n, c, h, w = x.shape
    return x.reshape(n, c // groups, groups, h, w).transpose(1, 2).reshape(n, c, h, w)
