# mutant: the table copied as printed, one row per S2 map: shape (6, 16)
# replaces: c3_mask_solution
# loses: c3_mask_test, c3_mask_test_hidden
# message: expected mask shape (16, 6), got (6, 16)
def c3_connection_mask():
    """Table I of LeCun et al. (1998) as a bool tensor (16, 6): mask[o, i] is True when
    C3 map o reads S2 map i."""
    inputs = [[(o + k) % 6 for k in range(3)] for o in range(6)]
    inputs += [[(o + k) % 6 for k in range(4)] for o in range(6)]
    inputs += [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5]]
    inputs += [list(range(6))]
    mask = torch.zeros(6, 16, dtype=torch.bool)
    for o, reads in enumerate(inputs):
        mask[reads, o] = True
    return mask
