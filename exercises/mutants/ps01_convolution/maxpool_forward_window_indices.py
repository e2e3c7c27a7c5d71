# mutant: indices relative to the window instead of positions in the input plane
# replaces: maxpool_forward_solution
# loses: maxpool_forward_test, maxpool_forward_test_hidden
# message: not the position inside the window
def maxpool2d_forward(x, kernel_size, stride=None):
    """Max pooling of ``x`` (N, C, H, W) without padding. Returns ``(out, indices)`` where
    ``indices`` holds the flat position ``row * W + col`` of each maximum in the input."""
    stride = stride or kernel_size
    n, c, h, w = x.shape
    out_h = (h - kernel_size) // stride + 1
    out_w = (w - kernel_size) // stride + 1
    out = x.new_empty(n, c, out_h, out_w)
    indices = torch.empty(n, c, out_h, out_w, dtype=torch.long)
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, i * stride:i * stride + kernel_size,
                       j * stride:j * stride + kernel_size]
            out[:, :, i, j], indices[:, :, i, j] = window.reshape(n, c, -1).max(dim=-1)
    return out, indices
