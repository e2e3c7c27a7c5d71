# mutant: drops the frozen stages first, then counts the exponent over the trainable ones only
# replaces: param_groups_solution
# loses: param_groups_test, param_groups_test_hidden
# message: count the places over ALL the stages
def layerwise_param_groups(stages, base_lr, decay):
    """One optimizer group per stage; the last stage gets base_lr, earlier ones less."""
    trainable = [[p for p in stage.parameters() if p.requires_grad] for stage in stages]
    trainable = [params for params in trainable if params]
    last = len(trainable) - 1
    return [{"params": params, "lr": base_lr * decay ** (last - index)}
            for index, params in enumerate(trainable)]


def fine_tune_optimizer(stages, n_frozen, base_lr, decay):
    """Freeze the first ``n_frozen`` stages, then SGD with per-stage learning rates."""
    for stage in stages[:n_frozen]:
        freeze(stage)
    groups = layerwise_param_groups(stages, base_lr, decay)
    return torch.optim.SGD(groups, lr=base_lr, momentum=0.9)
