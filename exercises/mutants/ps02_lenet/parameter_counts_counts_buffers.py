# mutant: counts the state dict (parameters AND buffers such as fixed RBF centres)
# replaces: parameter_counts_solution
# loses: parameter_counts_test_hidden
# message: count parameters, not buffers
def parameter_counts(model):
    """{child name: number of parameters} for every direct child of model, in order."""
    return {name: sum(t.numel() for t in child.state_dict().values()
                      if t.dtype.is_floating_point)
            for name, child in model.named_children()}
