"""PyTorch's side of benches/data_epoch.rs: torchvision MNIST + ToTensor +
DataLoader(batch_size=64, shuffle=True), one epoch with no model, and the time to
the first batch. torchvision reads uncompressed files, so they are decompressed
into a temporary root first (not timed).

    python benches/pytorch_data.py DATA_ROOT
"""
import gzip
import os
import shutil
import sys
import tempfile
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import ToTensor

src = os.path.join(sys.argv[1], "MNIST", "raw")
root = tempfile.mkdtemp()
os.makedirs(os.path.join(root, "MNIST", "raw"))
for f in os.listdir(src):
    with gzip.open(os.path.join(src, f)) as fin, open(os.path.join(root, "MNIST", "raw", f[:-3]), "wb") as fout:
        shutil.copyfileobj(fin, fout)

t = time.perf_counter()
train = datasets.MNIST(root=root, train=True, download=False, transform=ToTensor())
loader = DataLoader(train, batch_size=64, shuffle=True)
next(iter(loader))
print(f"open MNIST train (raw) + first batch:    {(time.perf_counter() - t) * 1e3:8.1f} ms")
times = []
for _ in range(3):
    t = time.perf_counter()
    for x, y in loader:
        pass
    times.append(time.perf_counter() - t)
times.sort()
print(f"epoch, batch 64, ToTensor, shuffle:     {times[0] * 1e3:8.1f} ms min, {times[1] * 1e3:.1f} ms median")
print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
shutil.rmtree(root)
