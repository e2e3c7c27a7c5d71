# mutant: differentiates the softmax probability instead of the logit
# replaces: saliency_map_solution
# loses: saliency_map_test, saliency_map_test_hidden
# message: not its softmax probability
def saliency_map(model, images, target):
    """|d logit_target / d images|, max over colour channels: (N, H, W)."""
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    probs = model(x).softmax(dim=1)
    target = torch.as_tensor(target).reshape(-1).expand(x.shape[0])
    score = probs.gather(1, target[:, None]).sum()
    (grad,) = torch.autograd.grad(score, x)
    return grad.abs().amax(dim=1)
