# mutant: the bias is never added
# replaces: conv_loops_solution
# loses: conv_loops_test, conv_loops_test_hidden
# message: add bias[o] to every output of filter o
def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    """Cross-correlation of ``x`` (N, C_in, H, W) with ``weight`` (C_out, C_in, kh, kw),
    plus ``bias`` (C_out,) if given, computed with loops. Returns (N, C_out, H_out, W_out).
    """
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    x = F.pad(x, (padding, padding, padding, padding))
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (w + 2 * padding - kw) // stride + 1
    out = x.new_zeros(n, c_out, out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            for o in range(c_out):
                out[:, o, i, j] = (patch * weight[o]).sum(dim=(1, 2, 3))
    return out
