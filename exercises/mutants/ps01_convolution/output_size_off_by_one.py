# mutant: off-by-one output size (forgets the + 1 for the first window position)
# replaces: output_size_solution
# loses: output_size_test, output_size_test_hidden
# message: expected 30, got 29
def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Number of positions of a window sliding along an axis of ``n`` pixels (an int)."""
    span = dilation * (kernel - 1) + 1
    return (n + 2 * padding - span) // stride
