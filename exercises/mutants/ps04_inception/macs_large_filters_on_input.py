# mutant: runs the reduced module's 3x3 and 5x5 on the full input channels
# replaces: module_macs_solution
# loses: module_macs_test, module_macs_test_hidden
# message: run on the REDUCED channels
def module_macs(in_channels, spec, size):
    """(naive, reduced) MACs of an inception module on a size x size input."""
    ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj = spec
    pixels = size * size
    naive = in_channels * (ch1x1 + 9 * ch3x3 + 25 * ch5x5) * pixels
    reduced = (in_channels * (ch1x1 + ch3x3red + ch5x5red + pool_proj)
               + in_channels * ch3x3 * 9 + in_channels * ch5x5 * 25) * pixels
    return naive, reduced
