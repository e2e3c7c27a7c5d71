# mutant: dilation ignored (the window is taken to span `kernel` pixels)
# replaces: output_size_solution
# loses: output_size_test, output_size_test_hidden
# message: a kernel with dilation d spans d * (kernel - 1) + 1 input pixels
def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Number of positions of a window sliding along an axis of ``n`` pixels (an int)."""
    return (n + 2 * padding - kernel) // stride + 1
