# mutant: each window's gradient spread evenly over its window (average pooling's backward)
# replaces: maxpool_backward_solution
# loses: maxpool_backward_test, maxpool_backward_test_hidden
# message: is not the maximum of any window, so its gradient must be 0
def maxpool2d_backward(grad_out, indices, input_shape):
    """Gradient of max pooling with respect to its input, of shape ``input_shape``:
    each ``grad_out[n, c, i, j]`` goes to the input pixel at ``indices[n, c, i, j]``."""
    n, c, h, w = input_shape
    out_h, out_w = grad_out.shape[2:]
    k = max(h - out_h + 1, 1)         # the window, assuming stride 1
    grad_in = grad_out.new_zeros(n, c, h, w)
    for i in range(out_h):
        for j in range(out_w):
            share = grad_out[:, :, i, j].view(n, c, 1, 1) / (k * k)
            grad_in[:, :, i:i + k, j:j + k] += share
    return grad_in
