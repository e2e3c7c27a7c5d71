# mutant: the stride is ignored (every position of the window is counted)
# replaces: output_size_solution
# loses: output_size_test, output_size_test_hidden
# message: expected 55, got 218. Hint: the window moves `stride` pixels at a time
def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Number of positions of a window sliding along an axis of ``n`` pixels (an int)."""
    span = dilation * (kernel - 1) + 1
    return n + 2 * padding - span + 1
