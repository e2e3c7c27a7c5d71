# mutant: takes the L2 norm over the channels at each position instead of over the positions
# replaces: grn_solution
# loses: grn_test, grn_test_hidden
# message: not over the channels
def grn(x, gamma, beta, eps=1e-6):
    """Global response normalisation of a channels-last (N, H, W, C) tensor."""
    g = x.pow(2).sum(dim=-1, keepdim=True).sqrt()  # (N, H, W, 1)
    n = g / (g.mean(dim=(1, 2), keepdim=True) + eps)
    return gamma * (x * n) + beta + x
