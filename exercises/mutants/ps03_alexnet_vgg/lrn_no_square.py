# mutant: sums the activations instead of their squares
# replaces: lrn_solution
# loses: lrn_test, lrn_test_hidden
# message: sum the SQUARES
def local_response_norm(a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """The paper's LRN across the channels of ``a`` (N, C, H, W)."""
    channels = a.shape[1]
    squares = a  # forgot to square
    out = torch.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - size // 2), min(channels - 1, i + size // 2)
        out[:, i] = a[:, i] / (k + alpha * squares[:, lo:hi + 1].sum(dim=1)) ** beta
    return out
