# mutant: sums the loss over the batch instead of averaging
# replaces: label_smoothing_solution
# loses: label_smoothing_test, label_smoothing_test_hidden
# message: return the MEAN over the batch
def label_smoothing_loss(logits, target, smoothing=0.1):
    """Mean cross-entropy of the logits against label-smoothed targets."""
    k = logits.shape[1]
    log_p = torch.log_softmax(logits, dim=1)
    q = torch.full_like(log_p, smoothing / k)
    q[torch.arange(len(target)), target] += 1 - smoothing
    return -(q * log_p).sum()
