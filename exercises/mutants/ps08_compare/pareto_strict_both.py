# mutant: domination strict in both cost and score: a tie in one of them never dominates
# replaces: pareto_front_solution
# loses: pareto_front_test, pareto_front_test_hidden
# message: strictly better in ONE of the two is enough
def pareto_front(costs, scores):
    """Indices (increasing) of the points no other point dominates: lower cost, higher score."""
    front = []
    for i, (cost, score) in enumerate(zip(costs, scores)):
        dominated = any(c < cost and s > score for c, s in zip(costs, scores))
        if not dominated:
            front.append(i)
    return front
