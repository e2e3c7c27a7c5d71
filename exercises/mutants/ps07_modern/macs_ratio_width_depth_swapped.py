# mutant: passes the depth multiplier as the width and the width multiplier as the depth
# replaces: macs_ratio_solution
# loses: macs_ratio_test, macs_ratio_test_hidden
# message: width and depth are swapped
def scaled_macs_ratio(d, w, r):
    """MACs of B0 scaled by depth d and width w at round(224 * r) pixels, over B0's at 224."""
    with torch.device("meta"):
        base = efficientnet_skeleton()
        scaled = efficientnet_skeleton(width=d, depth=w)
    return count_macs(scaled, round(224 * r)) / count_macs(base, 224)
