# mutant: the FLOPs factor with beta not squared (as if the cost grew linearly in width)
# replaces: compound_scaling_solution
# loses: compound_scaling_test, compound_scaling_test_hidden
# message: beta is squared
def compound_multipliers(phi, alpha=1.2, beta=1.1, gamma=1.15):
    """Depth, width and resolution multipliers (d, w, r) for the coefficient phi."""
    return alpha**phi, beta**phi, gamma**phi


def flops_factor(phi, alpha=1.2, beta=1.1, gamma=1.15):
    """How many times more FLOPs the phi-scaled network costs, by the scaling rule."""
    return (alpha * beta * gamma**2) ** phi
