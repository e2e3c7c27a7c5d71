# mutant: leaves the pool projection out of the reduced module's cost
# replaces: module_macs_solution
# loses: module_macs_test, module_macs_test_hidden
# message: the pool projection is a 1x1 conv too
def module_macs(in_channels, spec, size):
    """(naive, reduced) MACs of an inception module on a size x size input."""
    ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj = spec
    pixels = size * size
    naive = in_channels * (ch1x1 + 9 * ch3x3 + 25 * ch5x5) * pixels
    reduced = (in_channels * (ch1x1 + ch3x3red + ch5x5red)
               + ch3x3red * ch3x3 * 9 + ch5x5red * ch5x5 * 25) * pixels
    return naive, reduced
