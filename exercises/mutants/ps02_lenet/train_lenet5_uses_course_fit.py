# mutant: trains with the course's own fit loop instead of writing one
# replaces: train_lenet5_solution
# loses: train_lenet5_test
# message: must be your own code
def train_lenet5(model, images, labels, seed=0):
    """Train model on images (N, 1, 32, 32) in [0, 1] and labels (N,), seeded with seed;
    return the trained model."""
    from cnncourse.data import tensor_loader
    from cnncourse.train import fit

    loader = tensor_loader(images, labels, 64, shuffle=True, seed=seed)
    fit(model, loader, epochs=6, optimizer=lambda p: torch.optim.Adam(p, lr=2e-3), seed=seed)
    return model.eval()
