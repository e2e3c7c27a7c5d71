# mutant: puts every parameter in the groups, frozen ones included
# replaces: param_groups_solution
# loses: param_groups_test, param_groups_test_hidden
# message: hold frozen parameters
def layerwise_param_groups(stages, base_lr, decay):
    """One optimizer group per stage; the last stage gets base_lr, earlier ones less."""
    last = len(stages) - 1
    return [{"params": list(stage.parameters()), "lr": base_lr * decay ** (last - index)}
            for index, stage in enumerate(stages)]


def fine_tune_optimizer(stages, n_frozen, base_lr, decay):
    """Freeze the first ``n_frozen`` stages, then SGD with per-stage learning rates."""
    for stage in stages[:n_frozen]:
        freeze(stage)
    groups = layerwise_param_groups(stages, base_lr, decay)
    return torch.optim.SGD(groups, lr=base_lr, momentum=0.9)
