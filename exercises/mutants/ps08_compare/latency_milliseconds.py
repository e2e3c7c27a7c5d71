# mutant: returns milliseconds instead of seconds
# replaces: measure_latency_solution
# loses: measure_latency_test, measure_latency_test_hidden
# message: that is in milliseconds
def measure_latency(model, x, warmup=2, repeats=5):
    """Median seconds of ``repeats`` timed calls of ``model(x)``, after ``warmup`` untimed ones."""
    times = []
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
