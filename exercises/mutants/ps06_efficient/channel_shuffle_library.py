# mutant: calls torch's own channel shuffle instead of writing it
# replaces: channel_shuffle_solution
# loses: channel_shuffle_test, channel_shuffle_test_hidden
# message: channel_shuffle must move the channels itself
def channel_shuffle(x, groups):
    """Interleave the channels of ``groups`` equal groups."""
    return nn.functional.channel_shuffle(x, groups)
