# mutant: calls PyTorch's batch norm
# replaces: batch_norm_solution
# loses: batch_norm_test, batch_norm_test_hidden
# message: batch_norm must compute the normalisation from tensor operations
def batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Batch normalisation of x (N, C, H, W); updates the running statistics in training."""
    return nn.functional.batch_norm(x, running_mean, running_var, gamma, beta, training,
                                    momentum, eps)
