"""Writes the goldens of `kindling::vision::models` from torchvision.

    python tests/golden/make_vision_model_goldens.py

Needs torch and torchvision. Into tests/golden/vision_models.json: the
printouts of resnet18(), vgg16() and vgg16_bn(), their parameter counts and
state_dict keys and shapes, and the eval-mode logits of each on a fixed input
with weights from a formula (`fill` below; kindling's test fills its models
with the same formula, exact in float64 and rounded once to float32).
resnet18's formula weights are also written by PyTorch as
tests/golden/pth/resnet18.pth.gz (the formula repeats every 251 elements, so
the 47 MB file compresses to well under a megabyte), which the test loads
instead of filling: a torchvision-written file, loaded into kindling's resnet18.
"""
import gzip
import io
import json
import math
import os

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))


def periodic(k):
    return (k * 37) % 251 / 251 - 0.5


def fill(name, t):
    """The formula's value of state_dict entry `name` (a float tensor)."""
    n = t.numel()
    p = torch.tensor([periodic(k) for k in range(n)], dtype=torch.float64)
    if name.endswith("running_var"):
        v = 1 + p.abs()
    elif name.endswith("running_mean") or name.endswith("bias"):
        v = p * 0.2
    elif t.dim() == 1:  # BatchNorm weight
        v = 1 + p * 0.2
    else:
        fan_in = n // t.shape[0]
        v = p * (2 * math.sqrt(3) / math.sqrt(fan_in))
    return v.reshape(t.shape).to(t.dtype)


def filled(model):
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(fill(name, t))
    return model.eval()


def inputs(n, size):
    count = n * 3 * size * size
    return torch.tensor([periodic(k) * 4 for k in range(count)], dtype=torch.float64).reshape(n, 3, size, size).float()


def main():
    out = {}
    # Inputs small enough for a test: resnet takes any size from 32 px, and
    # VGG's adaptive pooling makes its 1x1 feature map 7x7.
    cases = {"resnet18": (2, 64), "vgg16": (1, 32), "vgg16_bn": (1, 32)}
    for name, (n, size) in cases.items():
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)()
        x = inputs(n, size)
        with torch.no_grad():
            logits = filled(model)(x)
        out[name] = {
            "printed": str(model),
            "parameters": sum(p.numel() for p in model.parameters()),
            "keys": [[k, list(v.shape), str(v.dtype)] for k, v in model.state_dict().items()],
            "input": [n, 3, size, size],
            # The 1000 logits of each image, sampled every 7th (and their sum).
            "logits": logits[:, ::7].flatten().tolist(),
            "logits_sum": logits.double().sum().item(),
        }
        if name == "resnet18":
            buf = io.BytesIO()
            torch.save(model.state_dict(), buf)
            with open(os.path.join(HERE, "pth", "resnet18.pth.gz"), "wb") as f:
                with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
                    g.write(buf.getvalue())
    with open(os.path.join(HERE, "vision_models.json"), "w") as f:
        json.dump(out, f)
    print("wrote the vision model goldens with torchvision", torchvision.__version__)


if __name__ == "__main__":
    main()
