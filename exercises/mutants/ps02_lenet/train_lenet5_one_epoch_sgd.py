# mutant: too little training: one epoch of plain SGD at a small learning rate
# replaces: train_lenet5_solution
# loses: train_lenet5_test
# message: at least 97% is needed
def train_lenet5(model, images, labels, seed=0):
    """Train model on images (N, 1, 32, 32) in [0, 1] and labels (N,), seeded with seed;
    return the trained model."""
    torch.manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for start in range(0, len(images), 64):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images[start:start + 64]), labels[start:start + 64])
        loss.backward()
        optimizer.step()
    return model.eval()
