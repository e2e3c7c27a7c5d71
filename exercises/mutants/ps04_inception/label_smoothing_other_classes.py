# mutant: spreads the smoothing over the K - 1 wrong classes only
# replaces: label_smoothing_solution
# loses: label_smoothing_test, label_smoothing_test_hidden
# message: on EVERY class, the true one included
def label_smoothing_loss(logits, target, smoothing=0.1):
    """Mean cross-entropy of the logits against label-smoothed targets."""
    k = logits.shape[1]
    log_p = torch.log_softmax(logits, dim=1)
    q = torch.full_like(log_p, smoothing / (k - 1))
    q[torch.arange(len(target)), target] = 1 - smoothing
    return -(q * log_p).sum(dim=1).mean()
