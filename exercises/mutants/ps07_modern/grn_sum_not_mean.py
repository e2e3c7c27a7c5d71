# mutant: divides by the sum of the channel norms instead of their mean
# replaces: grn_solution
# loses: grn_test, grn_test_hidden
# message: not by their sum
def grn(x, gamma, beta, eps=1e-6):
    """Global response normalisation of a channels-last (N, H, W, C) tensor."""
    g = x.pow(2).sum(dim=(1, 2), keepdim=True).sqrt()  # (N, 1, 1, C)
    n = g / (g.sum(dim=-1, keepdim=True) + eps)
    return gamma * (x * n) + beta + x
