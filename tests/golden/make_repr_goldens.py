"""Writes PyTorch's and torchvision's reprs of optimizers, transforms and
datasets: what a notebook cell shows for them.

    python tests/golden/make_repr_goldens.py

Needs torch and torchvision (no data: the dataset reprs are made from an
empty folder of placeholder files). Writes tests/golden/reprs.json, read by
the Display tests in src/optim/mod.rs, src/data/transforms.rs and
src/vision/datasets.rs.
"""
import json
import os
import tempfile

import torch
from torchvision import datasets
from torchvision import transforms as T

HERE = os.path.dirname(os.path.abspath(__file__))


def params():
    return torch.nn.Linear(3, 2).parameters()


O = torch.optim
optimizers = {
    # name: (kindling's constructor and setters, PyTorch's optimizer)
    "sgd": O.SGD(params(), lr=0.1),
    "sgd_momentum": O.SGD(params(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4),
    "sgd_dampening": O.SGD(params(), lr=1e-3, momentum=0.5, dampening=0.1),
    "adam": O.Adam(params(), lr=1e-3),
    "adam_options": O.Adam(params(), lr=3e-4, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-4, amsgrad=True),
    "adamw": O.AdamW(params(), lr=1e-3),
    "adadelta": O.Adadelta(params(), lr=1.0),
    "rmsprop": O.RMSprop(params(), lr=0.01),
    "rmsprop_options": O.RMSprop(params(), lr=0.001, alpha=0.9, eps=1e-3, momentum=0.9, centered=True),
    "adagrad": O.Adagrad(params(), lr=0.01),
    "adagrad_options": O.Adagrad(params(), lr=0.1, lr_decay=1e-4, weight_decay=0.5, initial_accumulator_value=0.1),
}

transforms = {
    "to_tensor": T.ToTensor(),
    "convert_image_dtype": T.ConvertImageDtype(torch.float),
    "normalize": T.Normalize((0.1307,), (0.3081,)),
    "normalize_rgb": T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
    "lambda": T.Lambda(lambda x: x),
    "random_crop": T.RandomCrop(28, padding=2),
    "random_affine": T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1)),
    "compose": T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
}


def dataset(cls, train, **kw):
    """torchvision's dataset over placeholder files, its root then set to
    "data" (the repr shows the root as given)."""
    root = tempfile.mkdtemp()
    raw = os.path.join(root, cls.__name__, "raw")
    os.makedirs(raw)
    for f in cls.resources:
        name = os.path.basename(f[0]).replace(".gz", "")
        open(os.path.join(raw, name), "wb").close()
    ds = cls.__new__(cls)
    datasets.VisionDataset.__init__(ds, root, **kw)
    ds.train = train
    ds.data = torch.zeros(60000 if train else 10000, 28, 28, dtype=torch.uint8)
    ds.root = "data"
    return ds


lam = T.Lambda(lambda y: torch.zeros(10).scatter_(0, torch.tensor(y), value=1))
datasets_ = {
    "mnist_train": dataset(datasets.MNIST, True, transform=T.ToTensor()),
    "mnist_test_compose": dataset(
        datasets.MNIST, False,
        transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
        target_transform=lam,
    ),
    "mnist_plain": dataset(datasets.MNIST, False),
    "fashion_train": dataset(datasets.FashionMNIST, True, transform=T.ToTensor()),
}

out = {
    "optimizers": {k: repr(v) for k, v in optimizers.items()},
    "transforms": {k: repr(v) for k, v in transforms.items()},
    "datasets": {k: repr(v) for k, v in datasets_.items()},
}
with open(os.path.join(HERE, "reprs.json"), "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", os.path.join(HERE, "reprs.json"))
