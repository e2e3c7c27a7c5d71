# mutant: true division, so the size is a float (and wrong when the stride does not divide)
# replaces: output_size_solution
# loses: output_size_test, output_size_test_hidden
# message: use floor division
def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Number of positions of a window sliding along an axis of ``n`` pixels (an int)."""
    span = dilation * (kernel - 1) + 1
    return (n + 2 * padding - span) / stride + 1
