# mutant: the (N, L, C_out) product is reshaped straight to (N, C_out, H_out, W_out)
# replaces: conv_im2col_solution
# loses: conv_im2col_test, conv_im2col_test_hidden
# message: your product is laid out (N, L, C_out)
def conv2d_im2col(x, weight, bias=None, stride=1, padding=0):
    """The convolution of ``conv2d_loops`` as one matrix product of unfolded patches."""
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)
    out = cols.transpose(1, 2) @ weight.reshape(c_out, -1).T  # (N, L, C_out)
    if bias is not None:
        out = out + bias
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (w + 2 * padding - kw) // stride + 1
    return out.reshape(n, c_out, out_h, out_w)
