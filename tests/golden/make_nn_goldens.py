"""Writes the nn parity goldens from PyTorch.

    cargo run --release --example write_parity_weights -- tests/golden/nn
    python tests/golden/make_nn_goldens.py MNIST_RAW_DIR

Needs torch and safetensors. For each reference architecture it writes, under
tests/golden/nn/:
  {arch}_pytorch.safetensors  fixed initial weights, written by PyTorch
and into tests/golden/nn_cases.json (text) and nn_cases.safetensors (arrays, keyed
"{arch}.{what}[.{param}]"): a fixed batch of real MNIST images, the
logits, cross-entropy loss and every parameter's gradient, the parameters after
3 steps of SGD (momentum 0.9, weight decay 1e-4, nesterov), of AdamW and of Adam
with AMSGrad, the module printouts, and the logits of the model loaded (strictly)
from the file kindling wrote ({arch}_kindling.safetensors): the round trip.
"""
import gzip
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "nn")
LAYERS = {
    "linear": lambda: [nn.Linear(784, 10)],
    "threeblue": lambda: [nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 10)],
    "mlp": lambda: [nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)],
}
CLASS = {"linear": "LinearNet", "threeblue": "ThreeBlue", "mlp": "MLP"}


def make_net(arch):
    cls = type(CLASS[arch], (nn.Module,), {
        "__init__": lambda self: (nn.Module.__init__(self), setattr(self, "flatten", nn.Flatten()),
                                  setattr(self, "layers", nn.Sequential(*LAYERS[arch]())))[0],
        "forward": lambda self, x: self.layers(self.flatten(x)),
    })
    return cls()


def idx(raw, name):
    with gzip.open(os.path.join(raw, name)) as f:
        return f.read()


ARRAYS = {}


def keep(prefix, named):
    for k, v in named.items():
        ARRAYS[f"{prefix}.{k}"] = v.detach().clone().contiguous()


def train_steps(model, opt, x, y, steps=3):
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return model.state_dict()


def main(raw):
    images = idx(raw, "train-images-idx3-ubyte.gz")[16:16 + 16 * 784]
    labels = idx(raw, "train-labels-idx1-ubyte.gz")[8:8 + 16]
    u8 = torch.tensor(list(images), dtype=torch.uint8).reshape(16, 28, 28)
    y = torch.tensor(list(labels), dtype=torch.int64)
    x = u8.float() / 255
    cases = {"images": list(images), "labels": list(labels), "archs": {}}
    for i, arch in enumerate(LAYERS):
        torch.manual_seed(100 + i)
        model = make_net(arch)
        path = os.path.join(OUT, f"{arch}_pytorch.safetensors")
        save_file(model.state_dict(), path)
        init = load_file(path)
        case = {"printed": str(model)}
        logits = model(x)
        loss = nn.CrossEntropyLoss()(logits, y)
        loss.backward()
        ARRAYS[f"{arch}.logits"] = logits.detach().clone()
        case["loss"] = loss.item()
        case["loss_printed"] = str(loss)
        keep(f"{arch}.grads", {k: p.grad for k, p in model.named_parameters()})

        # Each optimizer also runs in float64: where float32 rounding of near-zero
        # gradients is amplified (Adam normalises them to ~lr), PyTorch's own float32
        # result is that far from exact, and the tests allow kindling the same.
        optimizers = {
            "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True),
            "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01),
            "adam_amsgrad": lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=1e-3, amsgrad=True),
        }
        for name, make_opt in optimizers.items():
            model.float().load_state_dict(init)
            keep(f"{arch}.{name}", train_steps(model, make_opt(model.parameters()), x, y))
            model.double().load_state_dict({k: v.double() for k, v in init.items()})
            keep(f"{arch}.{name}_f64", {k: v.float() for k, v in train_steps(model, make_opt(model.parameters()), x.double(), y).items()})
            model.float()

        kindling_model = make_net(arch)
        kindling_model.load_state_dict(load_file(os.path.join(OUT, f"{arch}_kindling.safetensors")))  # strict
        ARRAYS[f"{arch}.kindling_file_logits"] = kindling_model(x).detach().clone()
        cases["archs"][arch] = case

    class ThreeBlue(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()

    first = ThreeBlue()
    cases["lecture_threeblue_v1"] = str(first)
    cases["lecture_flatten"] = str(first.flatten)
    cases["layer_reprs"] = [str(m) for m in [nn.Identity(), nn.ReLU(), nn.LeakyReLU(), nn.GELU(), nn.Sigmoid(), nn.Tanh(),
                                             nn.Softmax(dim=1), nn.LogSoftmax(dim=1), nn.Dropout(0.25), nn.Linear(3, 2, bias=False),
                                             nn.CrossEntropyLoss(), nn.MSELoss()]]
    # Losses on fixed inputs: value and gradient of the input.
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(6, 4, generator=g) * 3
    target = torch.tensor([0, 3, 1, 1, 2, 0])
    probs_target = torch.rand(6, 4, generator=g)
    losses = {
        "ce_mean": lambda z: nn.CrossEntropyLoss()(z, target),
        "ce_sum": lambda z: nn.CrossEntropyLoss(reduction="sum")(z, target),
        "ce_none": lambda z: nn.CrossEntropyLoss(reduction="none")(z, target),
        "ce_smooth": lambda z: nn.CrossEntropyLoss(label_smoothing=0.1)(z, target),
        "nll": lambda z: nn.NLLLoss()(torch.log_softmax(z, 1), target),
        "mse": lambda z: nn.MSELoss()(z, probs_target),
        "bce_logits": lambda z: nn.BCEWithLogitsLoss()(z, probs_target),
    }
    ARRAYS["loss.logits"] = logits
    ARRAYS["loss.target"] = target
    ARRAYS["loss.probs_target"] = probs_target
    for name, fn in losses.items():
        z = logits.clone().requires_grad_(True)
        out = fn(z)
        (out * torch.linspace(0.5, 1.5, out.numel()).reshape(out.shape)).sum().backward()
        ARRAYS[f"loss.{name}"] = out.detach().reshape(-1).clone()
        ARRAYS[f"loss.{name}.grad"] = z.grad.clone()

    # Learning-rate schedules.
    def lrs(make_sched, steps, lr=0.1):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=lr)
        sched = make_sched(opt)
        out = []
        for _ in range(steps):
            opt.step()
            sched.step()
            out.append(opt.param_groups[0]["lr"])
        return out

    cases["schedules"] = {
        "step": lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), 7),
        "cosine": lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.01), 5),
        "onecycle": lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=20, cycle_momentum=False), 19),
    }
    with open(os.path.join(HERE, "nn_cases.json"), "w") as f:
        json.dump(cases, f)
    save_file(ARRAYS, os.path.join(HERE, "nn_cases.safetensors"))
    print("wrote nn goldens with torch", torch.__version__)


if __name__ == "__main__":
    main(sys.argv[1])
