# mutant: a plain chain, each layer seeing only the previous layer's output
# replaces: dense_block_solution
# loses: dense_block_test, dense_block_test_hidden
# message: earlier outputs, concatenated
def dense_block_channels(in_channels, growth_rate, num_layers):
    """Channels of the block's tensor after each of its layers."""
    return [in_channels + growth_rate * (i + 1) for i in range(num_layers)]


def dense_block(x, layers):
    """Run ``layers`` densely on ``x``: each sees the concatenation of everything before it."""
    features = [x]
    out = x
    for layer in layers:
        out = layer(out)
        features.append(out)
    return torch.cat(features, dim=1)
