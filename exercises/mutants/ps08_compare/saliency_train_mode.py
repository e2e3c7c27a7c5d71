# mutant: forgets eval mode (dropout and batch statistics change the map)
# replaces: saliency_map_solution
# loses: saliency_map_test, saliency_map_test_hidden
# message: eval mode
def saliency_map(model, images, target):
    """|d logit_target / d images|, max over colour channels: (N, H, W)."""
    x = images.detach().clone().requires_grad_(True)
    logits = model(x)
    target = torch.as_tensor(target).reshape(-1).expand(x.shape[0])
    score = logits.gather(1, target[:, None]).sum()
    (grad,) = torch.autograd.grad(score, x)
    return grad.abs().amax(dim=1)
