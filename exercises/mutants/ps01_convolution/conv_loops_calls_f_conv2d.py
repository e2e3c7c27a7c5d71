# mutant: the "loops" version just calls the library convolution
# replaces: conv_loops_solution
# loses: conv_loops_test, conv_loops_test_hidden
# message: conv2d_loops must compute the convolution itself: it called torch.nn.functional.conv2d
def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    """Cross-correlation of ``x`` (N, C_in, H, W) with ``weight`` (C_out, C_in, kh, kw),
    plus ``bias`` (C_out,) if given, computed with loops. Returns (N, C_out, H_out, W_out).
    """
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)
