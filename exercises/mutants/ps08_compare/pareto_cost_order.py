# mutant: returns the front sorted by cost (as the book's benchmark.pareto_front does), not by index
# replaces: pareto_front_solution
# loses: pareto_front_test, pareto_front_test_hidden
# message: sorted by index, not by cost
def pareto_front(costs, scores):
    """Indices (increasing) of the points no other point dominates: lower cost, higher score."""
    front = []
    for i, (cost, score) in enumerate(zip(costs, scores)):
        dominated = any(c <= cost and s >= score and (c < cost or s > score)
                        for c, s in zip(costs, scores))
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (costs[i], -scores[i]))
