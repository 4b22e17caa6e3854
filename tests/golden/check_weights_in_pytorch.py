"""Loads weights that `kindling train` wrote into PyTorch and scores them.

    python tests/golden/check_weights_in_pytorch.py MNIST_RAW_DIR RUN_DIR [RUN_DIR ...]

Needs torch and safetensors. For each run folder (`kindling train --model cnn`
or `--model cnn-bn`), reads its model.json and model.safetensors, builds
pytorch/examples' Net (or NetBN, kindling's `cnn-bn`), loads the weights with
`load_state_dict(strict=True)` (every key, shape and dtype as PyTorch's own,
BatchNorm's buffers and int64 `num_batches_tracked` included), and scores the
10,000 test images in eval mode with the input the run recorded (ToTensor, then
Normalize). Prints one JSON line per run with the accuracy and the mean
cross-entropy, to compare with `kindling eval --json --weights RUN_DIR/model.safetensors`
(same images, same order): the two agree when the logits do.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_cnn_goldens import Net, NetBN, idx  # noqa: E402


def main(raw, runs):
    torch.set_num_threads(2)
    images = idx(raw, "t10k-images-idx3-ubyte.gz")[16:]
    labels = idx(raw, "t10k-labels-idx1-ubyte.gz")[8:]
    x = torch.frombuffer(bytearray(images), dtype=torch.uint8).reshape(-1, 1, 28, 28).float() / 255
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()
    for run in runs:
        with open(os.path.join(run, "model.json")) as f:
            meta = json.load(f)
        model = {"cnn": Net, "cnn-bn": NetBN}[meta["arch"]]()
        model.load_state_dict(load_file(os.path.join(run, "model.safetensors")), strict=True)
        model.eval()
        inputs = x
        if meta.get("normalize"):
            mean, std = meta["normalize"]
            inputs = (x - mean) / std
        with torch.no_grad():
            logits = torch.cat([model(inputs[i:i + 1000]) for i in range(0, len(inputs), 1000)])
        print(json.dumps({
            "run": run,
            "arch": meta["arch"],
            "accuracy": (logits.argmax(1) == y).double().mean().item(),
            "loss": F.cross_entropy(logits.double(), y).item(),
        }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
