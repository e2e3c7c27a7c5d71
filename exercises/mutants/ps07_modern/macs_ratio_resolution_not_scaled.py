# mutant: scales depth and width but still feeds the scaled network 224-pixel images
# replaces: macs_ratio_solution
# loses: macs_ratio_test, macs_ratio_test_hidden
# message: pixels, not 224
def scaled_macs_ratio(d, w, r):
    """MACs of B0 scaled by depth d and width w at round(224 * r) pixels, over B0's at 224."""
    with torch.device("meta"):
        base = efficientnet_skeleton()
        scaled = efficientnet_skeleton(width=w, depth=d)
    return count_macs(scaled, 224) / count_macs(base, 224)
