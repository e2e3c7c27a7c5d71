# mutant: the slice leaves out the window's last channel
# replaces: lrn_solution
# loses: lrn_test, lrn_test_hidden
# message: the window includes channel i + n//2
def local_response_norm(a, size=5, alpha=1e-4, beta=0.75, k=2.0):
    """The paper's LRN across the channels of ``a`` (N, C, H, W)."""
    channels = a.shape[1]
    squares = a * a
    out = torch.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - size // 2), min(channels - 1, i + size // 2)
        out[:, i] = a[:, i] / (k + alpha * squares[:, lo:hi].sum(dim=1)) ** beta
    return out
