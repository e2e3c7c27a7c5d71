# mutant: calls nn.LocalResponseNorm with the rescaled alpha
# replaces: lrn_solution
# loses: lrn_test, lrn_test_hidden
# message: local_response_norm must compute the normalisation from its formula
def local_response_norm(a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """The paper's LRN across the channels of ``a`` (N, C, H, W)."""
    return nn.LocalResponseNorm(size, alpha=size * alpha, beta=beta, k=k)(a)
    channels = a.shape[1]
    squares = a * a
    out = torch.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - size // 2), min(channels - 1, i + size // 2)
        out[:, i] = a[:, i] / (k + alpha * squares[:, lo:hi + 1].sum(dim=1)) ** beta
    return out
