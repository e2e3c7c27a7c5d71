# mutant: the gradient is assigned, not accumulated (grad[idx] = g), so overlaps lose all but one
# replaces: maxpool_backward_solution
# loses: maxpool_backward_test, maxpool_backward_test_hidden
# message: is the maximum of 2 windows, so its gradient is the SUM of their gradients
def maxpool2d_backward(grad_out, indices, input_shape):
    """Gradient of max pooling with respect to its input, of shape ``input_shape``:
    each ``grad_out[n, c, i, j]`` goes to the input pixel at ``indices[n, c, i, j]``."""
    n, c, h, w = input_shape
    grad_in = grad_out.new_zeros(n, c, h, w)
    for b in range(n):
        for ch in range(c):
            for g, index in zip(grad_out[b, ch].flatten(), indices[b, ch].flatten()):
                grad_in[b, ch, index // w, index % w] = g
    return grad_in
