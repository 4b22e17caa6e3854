"""PyTorch's and ONNX Runtime's side of the `cnn` job (convolution issue).

    python benches/pytorch_cnn.py RAW_ROOT bench THREADS
    python benches/pytorch_cnn.py RAW_ROOT train3 THREADS
    python benches/pytorch_cnn.py RAW_ROOT recipe3 THREADS

RAW_ROOT holds MNIST/raw/ with uncompressed files. Needs torch, torchvision,
onnx and onnxruntime (PyPI). Prints one JSON object.

bench : `kindling bench --jobs cnn`'s job as ../shared/reference/pytorch_lecture.py
        runs it: pytorch/examples' Net, SGD lr 0.05, batch 64, one epoch over
        preloaded ToTensor tensors; then inference on the 10k test images in
        batches of 1000 and in one batch, and one image (median of 200). The
        trained model is exported with torch.onnx.export (opset 17, dynamic
        batch) and ONNX Runtime (THREADS intra-op threads) scores the same
        images in batches of 1000 and one image from Python.
train3: `kindling train --model cnn --epochs 3`'s settings: SGD lr 0.05,
        momentum 0.9, cosine annealing per epoch, batch 64, shuffled, inputs
        ToTensor then Normalize((0.1307,), (0.3081,)); test accuracy per epoch.
recipe3: the same with `kindling train --model cnn --epochs 3`'s defaults
        since NOTE(cnn-recipe): Adam, OneCycleLR(max_lr=0.003) stepped per
        batch over the 3 epochs, and each training image through
        RandomAffine(0, translate=(0.08, 0.08)) before Normalize.
"""
import json
import os
import resource
import sys
import tempfile
import time

import torch
from torch import nn
from torchvision import datasets
from torchvision.transforms import ToTensor

root, mode, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)


class CNN(nn.Module):  # pytorch/examples' MNIST Net, as in pytorch_lecture.py
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3); self.c2 = nn.Conv2d(32, 64, 3)
        self.d1 = nn.Dropout(0.25); self.d2 = nn.Dropout(0.5)
        self.f1 = nn.Linear(9216, 128); self.f2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.relu(self.c1(x)); x = torch.relu(self.c2(x))
        x = torch.max_pool2d(x, 2); x = self.d1(x); x = torch.flatten(x, 1)
        x = torch.relu(self.f1(x)); x = self.d2(x); return self.f2(x)


train = datasets.MNIST(root=root, train=True, download=False, transform=ToTensor())
test = datasets.MNIST(root=root, train=False, download=False, transform=ToTensor())
Xtr = (train.data.float() / 255).unsqueeze(1); ytr = train.targets
Xte = (test.data.float() / 255).unsqueeze(1); yte = test.targets


def epoch(model, opt, x):
    loss_fn = nn.CrossEntropyLoss(); model.train()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), 64):
        idx = perm[i:i + 64]
        loss = loss_fn(model(x[idx]), ytr[idx]); opt.zero_grad(); loss.backward(); opt.step()


def predict(model, x, batch):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]).argmax(1) for i in range(0, len(x), batch)])


def median_latency(f, calls=200):
    ts = []
    for _ in range(calls):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2]


out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
if mode == "bench":
    torch.manual_seed(0); model = CNN(); opt = torch.optim.SGD(model.parameters(), lr=0.05)
    t = time.perf_counter(); epoch(model, opt, Xtr); out["epoch_s"] = time.perf_counter() - t
    times = {}
    for batch in (1000, 10000):
        runs = []
        for _ in range(3):
            t = time.perf_counter(); pred = predict(model, Xte, batch); runs.append(time.perf_counter() - t)
        times[batch] = min(runs)
    out["test_accuracy"] = (pred == yte).float().mean().item()
    out["infer10k_s_batches_of_1000"], out["infer10k_s_one_batch"] = times[1000], times[10000]
    with torch.no_grad():
        out["infer1_s_median"] = median_latency(lambda: model(Xte[:1]).argmax(1))
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    import onnxruntime as ort
    path = os.path.join(tempfile.mkdtemp(), "cnn.onnx")
    torch.onnx.export(model, Xte[:1], path, opset_version=17, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, dynamo=False)
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    xn = Xte.numpy()
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        pred = [sess.run(None, {"x": xn[i:i + 1000]})[0].argmax(1) for i in range(0, len(xn), 1000)]
        runs.append(time.perf_counter() - t)
    out["onnxruntime"] = ort.__version__
    out["onnx_infer10k_s_batches_of_1000"] = min(runs)
    out["onnx_infer1_s_median"] = median_latency(lambda: sess.run(None, {"x": xn[:1]})[0].argmax(1))
elif mode == "train3":
    torch.manual_seed(0); model = CNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3)
    xtr, xte = (Xtr - 0.1307) / 0.3081, (Xte - 0.1307) / 0.3081
    out["test_accuracy"], out["epoch_s"] = [], []
    for _ in range(3):
        t = time.perf_counter(); epoch(model, opt, xtr); out["epoch_s"].append(time.perf_counter() - t)
        sched.step()
        out["test_accuracy"].append((predict(model, xte, 1000) == yte).float().mean().item())
elif mode == "recipe3":
    from torchvision.transforms import RandomAffine
    torch.manual_seed(0); model = CNN()
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    batches = (len(Xtr) + 63) // 64
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.003, total_steps=3 * batches, cycle_momentum=False)
    shift = RandomAffine(0, translate=(0.08, 0.08))
    loss_fn = nn.CrossEntropyLoss()
    out["test_accuracy"], out["epoch_s"] = [], []
    for _ in range(3):
        t = time.perf_counter(); model.train()
        perm = torch.randperm(len(Xtr))
        for i in range(0, len(Xtr), 64):
            idx = perm[i:i + 64]
            x = torch.stack([shift(img) for img in Xtr[idx]])
            loss = loss_fn(model((x - 0.1307) / 0.3081), ytr[idx])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        out["epoch_s"].append(time.perf_counter() - t)
        out["test_accuracy"].append((predict(model, (Xte - 0.1307) / 0.3081, 1000) == yte).float().mean().item())
print(json.dumps(out))
