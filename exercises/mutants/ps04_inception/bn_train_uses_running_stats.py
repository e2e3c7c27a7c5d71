# mutant: updates the running statistics, then normalises the training batch with them
# replaces: batch_norm_solution
# loses: batch_norm_test, batch_norm_test_hidden
# message: in training mode normalise with the batch's statistics, not the running ones
def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch normalisation of x (N, C, H, W); updates the running statistics in training."""
    shape = (1, -1, 1, 1)
    if training:
        m = x.numel() // x.shape[1]
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * x.mean(dim=(0, 2, 3)))
            running_var.mul_(1 - momentum).add_(
                momentum * x.var(dim=(0, 2, 3), unbiased=False) * m / (m - 1))
    x_hat = (x - running_mean.view(shape)) / torch.sqrt(running_var.view(shape) + eps)
    return gamma.view(shape) * x_hat + beta.view(shape)
