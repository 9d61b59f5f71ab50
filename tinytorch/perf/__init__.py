"""Upstream TinyTorch's ``tinytorch.perf`` paths: aliases of modules 14-16 (profiling, memoization, quantization)."""
