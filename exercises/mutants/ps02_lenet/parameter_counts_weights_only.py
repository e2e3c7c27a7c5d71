# mutant: counts weights but not biases
# replaces: parameter_counts_solution
# loses: parameter_counts_test, parameter_counts_test_hidden
# message: weights AND biases
def parameter_counts(model):
    """{child name: number of parameters} for every direct child of model, in order."""
    return {name: sum(p.numel() for n, p in child.named_parameters() if not n.endswith("bias"))
            for name, child in model.named_children()}
