# mutant: C3 map 13 misread from the table (reads S2 maps 1, 2, 3, 5 instead of 1, 2, 4, 5)
# replaces: c3_mask_solution
# loses: c3_mask_test_hidden
# message: C3 map 13: expected it to read S2 maps [1, 2, 4, 5], got [1, 2, 3, 5]
def c3_connection_mask():
    """Table I of LeCun et al. (1998) as a bool tensor (16, 6): mask[o, i] is True when
    C3 map o reads S2 map i."""
    inputs = [[(o + k) % 6 for k in range(3)] for o in range(6)]
    inputs += [[(o + k) % 6 for k in range(4)] for o in range(6)]
    inputs += [[0, 1, 3, 4], [1, 2, 3, 5], [0, 2, 3, 5]]
    inputs += [list(range(6))]
    mask = torch.zeros(16, 6, dtype=torch.bool)
    for o, reads in enumerate(inputs):
        mask[o, reads] = True
    return mask
