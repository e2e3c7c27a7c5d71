# mutant: keeps a group for a stage whose parameters are all frozen (an empty group)
# replaces: param_groups_solution
# loses: param_groups_test, param_groups_test_hidden
# message: no empty groups
def layerwise_param_groups(stages, base_lr, decay):
    """One optimizer group per stage; the last stage gets base_lr, earlier ones less."""
    groups = []
    last = len(stages) - 1
    for index, stage in enumerate(stages):
        params = [p for p in stage.parameters() if p.requires_grad]
        groups.append({"params": params, "lr": base_lr * decay ** (last - index)})
    return groups


def fine_tune_optimizer(stages, n_frozen, base_lr, decay):
    """Freeze the first ``n_frozen`` stages, then SGD with per-stage learning rates."""
    for stage in stages[:n_frozen]:
        freeze(stage)
    groups = layerwise_param_groups(stages, base_lr, decay)
    return torch.optim.SGD(groups, lr=base_lr, momentum=0.9)
