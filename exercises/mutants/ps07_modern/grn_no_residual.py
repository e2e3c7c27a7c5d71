# mutant: forgets the residual + x
# replaces: grn_solution
# loses: grn_test, grn_test_hidden
# message: GRN adds its input back
def grn(x, gamma, beta, eps=1e-6):
    """Global response normalisation of a channels-last (N, H, W, C) tensor."""
    g = x.pow(2).sum(dim=(1, 2), keepdim=True).sqrt()  # (N, 1, 1, C)
    n = g / (g.mean(dim=-1, keepdim=True) + eps)
    return gamma * (x * n) + beta
