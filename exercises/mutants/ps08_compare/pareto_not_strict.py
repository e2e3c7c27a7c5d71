# mutant: domination without "strictly better in one": identical models knock each other out
# replaces: pareto_front_solution
# loses: pareto_front_test, pareto_front_test_hidden
# message: domination must be strict
def pareto_front(costs, scores):
    """Indices (increasing) of the points no other point dominates: lower cost, higher score."""
    front = []
    for i, (cost, score) in enumerate(zip(costs, scores)):
        dominated = any(j != i and c <= cost and s >= score
                        for j, (c, s) in enumerate(zip(costs, scores)))
        if not dominated:
            front.append(i)
    return front
