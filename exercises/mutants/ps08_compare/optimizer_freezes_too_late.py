# mutant: builds the groups and the optimizer first, freezes afterwards
# replaces: param_groups_solution
# loses: param_groups_test, param_groups_test_hidden
# message: freeze BEFORE building the groups
def layerwise_param_groups(stages, base_lr, decay):
    """One optimizer group per stage; the last stage gets base_lr, earlier ones less."""
    groups = []
    last = len(stages) - 1
    for index, stage in enumerate(stages):
        params = [p for p in stage.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": base_lr * decay ** (last - index)})
    return groups


def fine_tune_optimizer(stages, n_frozen, base_lr, decay):
    """Freeze the first ``n_frozen`` stages, then SGD with per-stage learning rates."""
    optimizer = torch.optim.SGD(layerwise_param_groups(stages, base_lr, decay), lr=base_lr,
                                momentum=0.9)
    for stage in stages[:n_frozen]:
        freeze(stage)
    return optimizer
