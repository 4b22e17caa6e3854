"""Writes the goldens of `tests/modules.rs` (#[derive(Module)]) from PyTorch.

    cargo run --release --example write_parity_weights -- tests/golden/nn
    python tests/golden/make_module_goldens.py

The Tower module (see tests/common/tower.rs) has a ModuleList, a module that is
present, one that is None, and two buffers. This script writes
  nn/tower_pytorch.safetensors  its state dict with fixed weights and buffers
and modules.json: the printout, the state_dict keys in order, a fixed input and
the eval-mode output of the PyTorch-written weights, and the output of the
weights kindling wrote (nn/tower_kindling.safetensors), loaded strictly.
"""
import json
import os

import torch
from safetensors.torch import load_file, save_file
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 3)
        self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 2)])
        self.drop = nn.Dropout(0.1)
        self.head = None
        self.register_buffer("scale", torch.full((2,), 0.5))
        self.register_buffer("seen", torch.tensor(0))
        self.width = 3

    def forward(self, x):
        y = torch.relu(self.stem(x))
        y = torch.relu(self.blocks[0](y))
        y = self.blocks[1](y)
        return self.drop(y) * self.scale


def main():
    torch.manual_seed(3)
    model = Tower()
    model.scale.copy_(torch.tensor([2.0, -1.0]))
    model.seen.fill_(7)
    save_file(model.state_dict(), os.path.join(HERE, "nn", "tower_pytorch.safetensors"))
    model.eval()
    x = torch.linspace(-1, 1, 20).reshape(5, 4)
    theirs = Tower()
    theirs.load_state_dict(load_file(os.path.join(HERE, "nn", "tower_kindling.safetensors")), strict=True)
    theirs.eval()
    cases = {
        "printed": str(model),
        "keys": list(model.state_dict().keys()),
        "input": x.reshape(-1).tolist(),
        "output": model(x).detach().reshape(-1).tolist(),
        "kindling_file_output": theirs(x).detach().reshape(-1).tolist(),
        "kindling_file_seen": theirs.seen.item(),
    }
    with open(os.path.join(HERE, "modules.json"), "w") as f:
        json.dump(cases, f, indent=1)
    print("wrote module goldens with torch", torch.__version__)


if __name__ == "__main__":
    main()
