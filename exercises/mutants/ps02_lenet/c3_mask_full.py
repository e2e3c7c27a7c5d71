# mutant: every C3 map connected to every S2 map (the lecture's C3)
# replaces: c3_mask_solution
# loses: c3_mask_test, c3_mask_test_hidden
# message: Table I has 60 connections; your mask has 96
def c3_connection_mask():
    """Table I of LeCun et al. (1998) as a bool tensor (16, 6): mask[o, i] is True when
    C3 map o reads S2 map i."""
    return torch.ones(16, 6, dtype=torch.bool)
