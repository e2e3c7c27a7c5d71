# mutant: calls cross_entropy with its label_smoothing argument
# replaces: label_smoothing_solution
# loses: label_smoothing_test, label_smoothing_test_hidden
# message: label_smoothing_loss must compute the loss from log_softmax
def label_smoothing_loss(logits, target, smoothing=0.1):
    """Mean cross-entropy of the logits against label-smoothed targets."""
    return nn.functional.cross_entropy(logits, target, label_smoothing=smoothing)
