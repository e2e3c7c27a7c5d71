# mutant: sets an attribute on the module, which no parameter reads
# replaces: freeze_solution
# loses: freeze_test, freeze_test_hidden, param_groups_test, param_groups_test_hidden
# message: is still trainable
def freeze(module):
    """Set requires_grad=False on every parameter of ``module``; return ``module``."""
    module.requires_grad = False
    return module
