# mutant: minimises the expected reward: a loss without the minus sign
# replaces: reinforce_update_solution
# loses: reinforce_update_test, reinforce_update_test_hidden
# message: the logits moved the wrong way
def reinforce_update(logits, archs, rewards, baseline, lr):
    """The controller's logits after one gradient step on the REINFORCE loss."""
    params = [logit.detach().clone().requires_grad_() for logit in logits]
    terms = []
    for arch, reward in zip(archs, rewards):
        log_prob = sum(torch.log_softmax(p, dim=0)[choice] for p, choice in zip(params, arch))
        terms.append((reward - baseline) * log_prob)
    loss = torch.stack(terms).mean()
    grads = torch.autograd.grad(loss, params)
    return [(p - lr * g).detach() for p, g in zip(params, grads)]
