# mutant: leaves out the children without parameters (ReLU, pooling, Flatten)
# replaces: parameter_counts_solution
# loses: parameter_counts_test, parameter_counts_test_hidden
# message: include every child, also those without parameters
def parameter_counts(model):
    """{child name: number of parameters} for every direct child of model, in order."""
    counts = {}
    for name, child in model.named_children():
        n = sum(p.numel() for p in child.parameters())
        if n:
            counts[name] = n
    return counts
