"""PyTorch's side of `kindling bench`: the same jobs, seeds and hyperparameters as
../shared/reference/pytorch_lecture.py (SGD, lr 1.0 for threeblue and 0.1 for
mlp, batch 64, one epoch), in two pipelines:
  loader : torchvision MNIST + ToTensor + DataLoader(shuffle=True)  (the lecture's)
  tensor : the data preloaded as one float tensor, batches by index (PyTorch's best)
Prints one JSON object. Usage: python benches/pytorch_jobs.py RAW_ROOT RUNS
(RAW_ROOT holds MNIST/raw/ with uncompressed files.)
"""
import json
import resource
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import ToTensor

root, runs = sys.argv[1], int(sys.argv[2])
LAYERS = {
    "threeblue": (lambda: nn.Sequential(nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 10)), 1.0),
    "mlp": (lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)), 0.1),
}

train = datasets.MNIST(root=root, train=True, download=False, transform=ToTensor())
test = datasets.MNIST(root=root, train=False, download=False, transform=ToTensor())
Xtr = (train.data.float() / 255).unsqueeze(1)
ytr = train.targets
Xte = (test.data.float() / 255).unsqueeze(1)
yte = test.targets
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "jobs": []}
for name, (make, lr) in LAYERS.items():
    for pipeline in ["tensor", "loader"]:
        times = []
        for _ in range(runs if pipeline == "tensor" else 1):
            torch.manual_seed(0)
            model = nn.Sequential(nn.Flatten(), make())
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            loss_fn = nn.CrossEntropyLoss()
            t = time.perf_counter()
            if pipeline == "loader":
                for x, y in DataLoader(train, batch_size=64, shuffle=True):
                    loss = loss_fn(model(x), y); opt.zero_grad(); loss.backward(); opt.step()
            else:
                perm = torch.randperm(len(Xtr))
                for i in range(0, len(Xtr), 64):
                    idx = perm[i:i + 64]
                    loss = loss_fn(model(Xtr[idx]), ytr[idx]); opt.zero_grad(); loss.backward(); opt.step()
            times.append(time.perf_counter() - t)
        infer = []
        with torch.no_grad():
            for _ in range(5):
                t = time.perf_counter()
                acc = (model(Xte).argmax(1) == yte).float().mean().item()
                infer.append(time.perf_counter() - t)
            latency = {}
            for rows in (1, 64):
                xs, ts = Xte[:rows], []
                for _ in range(200):
                    t = time.perf_counter()
                    model(xs).argmax(1)
                    ts.append(time.perf_counter() - t)
                latency[rows] = sorted(ts)[len(ts) // 2]
        times.sort()
        out["jobs"].append({"job": name, "pipeline": pipeline, "epoch_s_min": times[0], "epoch_s_median": times[len(times) // 2],
                            "infer10k_s_min": min(infer), "infer1_s_median": latency[1], "infer64_s_median": latency[64],
                            "test_accuracy": acc})
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
