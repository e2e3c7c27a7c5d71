# mutant: differentiates the logit of the predicted class (argmax), ignoring `target`
# replaces: saliency_map_solution
# loses: saliency_map_test, saliency_map_test_hidden
# message: not the class the model predicts
def saliency_map(model, images, target):
    """|d logit_target / d images|, max over colour channels: (N, H, W)."""
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    logits = model(x)
    predicted = logits.argmax(dim=1)
    score = logits.gather(1, predicted[:, None]).sum()
    (grad,) = torch.autograd.grad(score, x)
    return grad.abs().amax(dim=1)
