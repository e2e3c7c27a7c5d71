# mutant: the answer is the course's reference, imported
# replaces: conv_loops_solution
# loses: conv_loops_test, conv_loops_test_hidden
# message: conv2d_loops must be your own code
from cnncourse.ops import conv2d_loops  # noqa: F401
