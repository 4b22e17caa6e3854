"""Writes the parity goldens of the `cnn` model (pytorch/examples' MNIST Net).

    python tests/golden/make_cnn_goldens.py MNIST_RAW_DIR

Needs torch and safetensors. The weights would be 4.8 MB, so both sides build
them from the same formula instead of a file (`weight_value` below, exact in
float64 and rounded once to float32, so both get the same bits). In eval mode
(dropout off; its random stream is not PyTorch's), on 16 real MNIST images, it
writes into cnn_cases.safetensors the logits, the loss and every parameter's
gradient, and the parameters after 3 steps of SGD (lr 0.05, momentum 0.9)
and of Adadelta (lr 1.0, pytorch/examples' choice), RMSprop (plain, and
centered with momentum and weight decay) and Adagrad (plain, and with every
option).
`fc1.weight` (128 x 9216) is kept as three of its rows. cnn_cases.json holds
the printout, the state_dict keys and shapes, and the loss.
"""
import gzip
import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
FC1_ROWS = [0, 37, 127]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


class NetBN(Net):
    """kindling's `cnn-bn`: Net with BatchNorm2d after each convolution."""

    def __init__(self):
        super().__init__()
        # Registered in kindling's order: conv1, bn1, conv2, bn2, ...
        convs = (self.conv1, self.conv2)
        del self.conv1, self.conv2
        self.conv1, self.bn1 = convs[0], nn.BatchNorm2d(32)
        self.conv2, self.bn2 = convs[1], nn.BatchNorm2d(64)
        self.dropout1, self.dropout2, self.fc1, self.fc2 = self.dropout1, self.dropout2, self.fc1, self.fc2
        order = ["conv1", "bn1", "conv2", "bn2", "dropout1", "dropout2", "fc1", "fc2"]
        self._modules = type(self._modules)((k, self._modules[k]) for k in order)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


def weight_value(k, fan_in):
    """Element k of a parameter whose layer has `fan_in` inputs: uniform-looking
    in +-1/sqrt(fan_in), from integers only until the last two operations."""
    return ((k * 2654435761) % 65536 / 65536 - 0.5) * 2 / math.sqrt(fan_in)


def init(model):
    """The formula's weights; BatchNorm's weight 1 + value, bias a value, and
    its buffers at PyTorch's defaults."""
    fans = {"conv1": 9, "conv2": 288, "fc1": 9216, "fc2": 128, "bn1": 4, "bn2": 4}
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan = fans[name.split(".")[0]]
            values = [weight_value(k, fan) for k in range(p.numel())]
            if name.startswith("bn") and name.endswith("weight"):
                values = [1 + v for v in values]
            p.copy_(torch.tensor(values, dtype=torch.float64).reshape(p.shape).float())
        for name, b in model.named_buffers():
            b.copy_(torch.ones_like(b) if name.endswith("running_var") else torch.zeros_like(b))


def idx(raw, name):
    with gzip.open(os.path.join(raw, name)) as f:
        return f.read()


def kept(named):
    out = {}
    for k, v in named:
        v = v.detach().clone()
        if k == "fc1.weight":
            v = v[FC1_ROWS]
        out[k] = v.contiguous()
    return out


def main(raw):
    images = idx(raw, "train-images-idx3-ubyte.gz")[16:16 + 16 * 784]
    labels = idx(raw, "train-labels-idx1-ubyte.gz")[8:8 + 16]
    x = torch.tensor(list(images), dtype=torch.uint8).reshape(16, 1, 28, 28).float() / 255
    y = torch.tensor(list(labels), dtype=torch.int64)
    arrays = {}
    model = Net()
    init(model)
    model.eval()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    arrays["logits"] = logits.detach().clone()
    for k, v in kept((k, p.grad) for k, p in model.named_parameters()).items():
        arrays[f"grads.{k}"] = v
    optimizers = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
        "adadelta": lambda ps: torch.optim.Adadelta(ps, lr=1.0),
        # eps 1e-3: with the default 1e-8, RMSprop's first step is +-10 lr
        # whatever a gradient's size, so gradients that are float32 noise
        # (PyTorch's float32 run is off its float64 run on 0.7% of conv2's
        # weights, by up to 4% of the largest) would decide the comparison.
        "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=0.001, eps=1e-3),
        "rmsprop_centered_momentum": lambda ps: torch.optim.RMSprop(ps, lr=0.001, eps=1e-3, momentum=0.9, centered=True, weight_decay=1e-4),
        # eps 1e-3 for the same reason as RMSprop's: Adagrad's first step is
        # lr · g / |g| too.
        "adagrad": lambda ps: torch.optim.Adagrad(ps, lr=0.01, eps=1e-3),
        "adagrad_decays": lambda ps: torch.optim.Adagrad(ps, lr=0.01, eps=1e-3, lr_decay=0.1, weight_decay=1e-3, initial_accumulator_value=0.1),
    }
    for name, make in optimizers.items():
        init(model)
        opt = make(model.parameters())
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        for k, v in kept(model.named_parameters()).items():
            arrays[f"{name}.{k}"] = v
    cases = {
        "images": list(images),
        "labels": list(labels),
        "printed": str(model),
        "loss": loss.item(),
        "keys": [[k, list(v.shape)] for k, v in model.state_dict().items()],
        "fc1_rows": FC1_ROWS,
    }
    with open(os.path.join(HERE, "cnn_cases.json"), "w") as f:
        json.dump(cases, f)
    save_file(arrays, os.path.join(HERE, "cnn_cases.safetensors"))
    batch_norm_cases(x, y)
    print("wrote cnn goldens with torch", torch.__version__)


def train_mode(model):
    """Training mode for BatchNorm, dropout off (its random stream is not PyTorch's)."""
    model.train()
    model.dropout1.eval()
    model.dropout2.eval()


def batch_norm_cases(x, y):
    """cnn-bn: in training mode (batch statistics) the logits, loss, every
    gradient and the buffers after that forward; then the eval-mode logits
    (running statistics); then parameters and buffers after 3 training steps
    of SGD (momentum) and of Adadelta.

    In float64, from the same float32 weights and images: PyTorch's float32
    BatchNorm backward is off its own float64 result by 3.2e-5 of the largest
    conv2 weight gradient (the cancellation in g - mean(g) - x̂·mean(g·x̂)),
    more than the 1e-5 compared; kindling sums those in float64, so it is
    held to the exact result instead."""
    arrays = {}
    x = x.double()
    model = NetBN().double()
    init(model)
    train_mode(model)
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    arrays["logits"] = logits.detach().clone()
    for k, v in kept((k, p.grad) for k, p in model.named_parameters()).items():
        arrays[f"grads.{k}"] = v
    for k, v in model.named_buffers():
        arrays[f"buffers.{k}"] = v.detach().clone()
    model.eval()
    arrays["eval_logits"] = model(x).detach().clone()
    optimizers = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
        "adadelta": lambda ps: torch.optim.Adadelta(ps, lr=1.0),
    }
    for name, make in optimizers.items():
        init(model)
        train_mode(model)
        opt = make(model.parameters())
        for _ in range(3):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        for k, v in kept(model.state_dict().items()).items():
            arrays[f"{name}.{k}"] = v
    cases = {
        "printed": str(model),
        "loss": loss.item(),
        "keys": [[k, list(v.shape)] for k, v in model.state_dict().items()],
    }
    with open(os.path.join(HERE, "cnn_bn_cases.json"), "w") as f:
        json.dump(cases, f)
    save_file(arrays, os.path.join(HERE, "cnn_bn_cases.safetensors"))


if __name__ == "__main__":
    main(sys.argv[1])
