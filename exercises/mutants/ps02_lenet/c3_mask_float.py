# mutant: the right table, but as a float tensor of 0s and 1s
# replaces: c3_mask_solution
# loses: c3_mask_test, c3_mask_test_hidden
# message: expected a boolean mask (dtype torch.bool), got dtype torch.float32
def c3_connection_mask():
    """Table I of LeCun et al. (1998) as a bool tensor (16, 6): mask[o, i] is True when
    C3 map o reads S2 map i."""
    inputs = [[(o + k) % 6 for k in range(3)] for o in range(6)]
    inputs += [[(o + k) % 6 for k in range(4)] for o in range(6)]
    inputs += [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5]]
    inputs += [list(range(6))]
    mask = torch.zeros(16, 6)
    for o, reads in enumerate(inputs):
        mask[o, reads] = 1.0
    return mask
