"""PyTorch's side of benches/overhead.rs, same shapes, same method (median of 7 rounds).

    python benches/pytorch_overhead.py
"""
import time

import torch


def time_per_iter(iters, f):
    rounds = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(iters):
            f()
        rounds.append((time.perf_counter() - start) / iters)
    return sorted(rounds)[3]


torch.manual_seed(0)
a = torch.randn(64, 16, requires_grad=True)
b = torch.randn(64, 16)
print(f"add 64x16 f32 with graph recording:          {time_per_iter(100_000, lambda: a + b) * 1e6:7.3f} us/op")
a2 = torch.randn(64, 16)
print(f"add 64x16 f32 without grad:                  {time_per_iter(100_000, lambda: a2 + b) * 1e6:7.3f} us/op")
x = torch.rand(64, 784)
w = torch.randn(16, 784, requires_grad=True)
bias = torch.randn(16, requires_grad=True)


def fwd_bwd():
    torch.addmm(bias, x, w.t()).sum().backward()
    w.grad = None
    bias.grad = None


print(f"addmm 64x784 . 784x16 forward+backward:      {time_per_iter(5_000, fwd_bwd) * 1e6:7.3f} us/iter")
print(f"addmm 64x784 . 784x16 forward only:          {time_per_iter(20_000, lambda: torch.addmm(bias, x, w.t())) * 1e6:7.3f} us/iter")
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
