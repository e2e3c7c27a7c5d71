# mutant: padding counted once instead of on both sides
# replaces: output_size_solution
# loses: output_size_test, output_size_test_hidden
# message: padding is added on both sides of the input
def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Number of positions of a window sliding along an axis of ``n`` pixels (an int)."""
    span = dilation * (kernel - 1) + 1
    return (n + padding - span) // stride + 1
