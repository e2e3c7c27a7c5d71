# mutant: overwrites the log-probability in the loop instead of summing it over the decisions
# replaces: reinforce_update_solution
# loses: reinforce_update_test, reinforce_update_test_hidden
# message: not only the last one's
def reinforce_update(logits, archs, rewards, baseline, lr):
    """The controller's logits after one gradient step on the REINFORCE loss."""
    params = [logit.detach().clone().requires_grad_() for logit in logits]
    terms = []
    for arch, reward in zip(archs, rewards):
        for p, choice in zip(params, arch):
            log_prob = torch.log_softmax(p, dim=0)[choice]
        terms.append((reward - baseline) * log_prob)
    loss = -torch.stack(terms).mean()
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [p.detach() if g is None else (p - lr * g).detach() for p, g in zip(params, grads)]
