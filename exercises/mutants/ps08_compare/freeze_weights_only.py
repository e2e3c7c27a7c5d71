# mutant: freezes the weights of the direct children only, not biases or nested layers
# replaces: freeze_solution
# loses: freeze_test, freeze_test_hidden, param_groups_test, param_groups_test_hidden
# message: is still trainable
def freeze(module):
    """Set requires_grad=False on every parameter of ``module``; return ``module``."""
    for child in module.children():
        if getattr(child, "weight", None) is not None:
            child.weight.requires_grad_(False)
    return module
