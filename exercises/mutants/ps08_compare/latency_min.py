# mutant: returns the fastest timed call (the minimum) instead of the median
# replaces: measure_latency_solution
# loses: measure_latency_test, measure_latency_test_hidden
# message: that is the fastest call
def measure_latency(model, x, warmup=2, repeats=5):
    """Median seconds of ``repeats`` timed calls of ``model(x)``, after ``warmup`` untimed ones."""
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return min(times)
