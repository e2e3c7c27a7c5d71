# mutant: the width multiplier applied to depth (and the depth multiplier to width)
# replaces: compound_scaling_solution
# loses: compound_scaling_test, compound_scaling_test_hidden
# message: the width multiplier went to depth
def compound_multipliers(phi, alpha=1.2, beta=1.1, gamma=1.15):
    """Depth, width and resolution multipliers (d, w, r) for the coefficient phi."""
    return beta**phi, alpha**phi, gamma**phi


def flops_factor(phi, alpha=1.2, beta=1.1, gamma=1.15):
    """How many times more FLOPs the phi-scaled network costs, by the scaling rule."""
    return (alpha * beta**2 * gamma**2) ** phi
