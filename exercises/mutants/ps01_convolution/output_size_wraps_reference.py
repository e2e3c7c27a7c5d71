# mutant: a wrapper around the course's reference (caught when the reference is called)
# replaces: output_size_solution
# loses: output_size_test, output_size_test_hidden
# message: conv_output_size must be your own code
from cnncourse.analysis import arithmetic


def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    """Number of positions of a window sliding along an axis of ``n`` pixels (an int)."""
    return arithmetic.conv_output_size(n, kernel, stride, padding, dilation)
