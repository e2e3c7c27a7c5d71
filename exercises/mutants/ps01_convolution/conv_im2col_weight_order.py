# mutant: weights flattened as (kh, kw, C_in), not in F.unfold's (C_in, kh, kw) order
# replaces: conv_im2col_solution
# loses: conv_im2col_test, conv_im2col_test_hidden
# message: F.unfold stacks each patch channel by channel
def conv2d_im2col(x, weight, bias=None, stride=1, padding=0):
    """The convolution of ``conv2d_loops`` as one matrix product of unfolded patches."""
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)
    out = weight.permute(0, 2, 3, 1).reshape(c_out, -1) @ cols
    if bias is not None:
        out = out + bias.view(1, -1, 1)
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (w + 2 * padding - kw) // stride + 1
    return out.view(n, c_out, out_h, out_w)
