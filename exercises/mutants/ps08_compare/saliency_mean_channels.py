# mutant: averages over the colour channels instead of taking the max
# replaces: saliency_map_solution
# loses: saliency_map_test, saliency_map_test_hidden
# message: not the mean
def saliency_map(model, images, target):
    """|d logit_target / d images|, max over colour channels: (N, H, W)."""
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    logits = model(x)
    target = torch.as_tensor(target).reshape(-1).expand(x.shape[0])
    score = logits.gather(1, target[:, None]).sum()
    (grad,) = torch.autograd.grad(score, x)
    return grad.abs().mean(dim=1)
