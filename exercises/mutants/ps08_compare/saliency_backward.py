# mutant: calls backward(), which also fills the parameters' .grad
# replaces: saliency_map_solution
# loses: saliency_map_test, saliency_map_test_hidden
# message: expected them left untouched
def saliency_map(model, images, target):
    """|d logit_target / d images|, max over colour channels: (N, H, W)."""
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    logits = model(x)
    target = torch.as_tensor(target).reshape(-1).expand(x.shape[0])
    logits.gather(1, target[:, None]).sum().backward()
    return x.grad.abs().amax(dim=1)
