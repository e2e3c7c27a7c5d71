# mutant: assumes square kernels (only the hidden cases have non-square ones)
# replaces: conv_loops_solution
# loses: conv_loops_test_hidden
# message: the kernel may be non-square
def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    """Cross-correlation of ``x`` (N, C_in, H, W) with ``weight`` (C_out, C_in, kh, kw),
    plus ``bias`` (C_out,) if given, computed with loops. Returns (N, C_out, H_out, W_out).
    """
    n, _, h, w = x.shape
    c_out, k = weight.shape[0], weight.shape[2]
    x = F.pad(x, (padding, padding, padding, padding))
    out_h = (h + 2 * padding - k) // stride + 1
    out_w = (w + 2 * padding - k) // stride + 1
    out = x.new_zeros(n, c_out, out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            for o in range(c_out):
                out[:, o, i, j] = (patch * weight[o]).sum(dim=(1, 2, 3))
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out
