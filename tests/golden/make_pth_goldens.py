"""Writes the `.pth` goldens from PyTorch, and checks kindling's `.pth` files in PyTorch.

    python tests/golden/make_pth_goldens.py MNIST_RAW_DIR
    cargo run --release --example write_pth_goldens
    python tests/golden/make_pth_goldens.py MNIST_RAW_DIR --check

Needs torch. Every file is written gzipped under tests/golden/pth/ (the tests
unzip them into a temporary folder): the `.pth` inside is exactly what
`torch.save` wrote.

The first run writes, with `torch.save`:
  mlp.pth        kindling's `mlp`, PyTorch's default initialisation (seed 0)
  cnn.pth        `cnn` (pytorch/examples' MNIST Net) with weights from a
                 formula of period 251 (random weights would be 4.8 MB; these
                 compress to a few kB)
  cnn_bn.pth     `cnn-bn`, the same formula, running statistics from one
                 training-mode forward
  checkpoint.pth {"model", "optimizer" (SGD, momentum), "epoch", "loss"} of
                 `threeblue` after 2 steps, as pytorch/examples saves one
  adam.pth       the same with Adam (its state holds `step`)
  *_step3.pth    the state dict of each after its third step
and, from make_vision_model_goldens.py, resnet18.pth (torchvision-written).
  values.pth     views sharing a storage, every kindling dtype, containers,
                 torch.Size, bytes, big and negative ints, a Parameter
and hostile/*.pth, each of which torch.load(weights_only=True) refuses too.
pth_cases.json holds 16 MNIST test images, PyTorch's logits for each model
(cnn-bn in eval mode), and Python's repr of the non-tensor values.pth holds.

The --check run loads the files kindling wrote (`*_kindling.pth`, from
`examples/write_pth_goldens.rs`) with `torch.load(weights_only=True)` and
`load_state_dict(strict=True)` (and the optimizers' `load_state_dict`), and
writes pth_kindling_check.json: how far PyTorch's logits from kindling's files
are from its own, and how far its parameters are, one step after kindling's
checkpoint, from its own run (it fails above 1e-5).
"""
import collections
import gzip
import io
import json
import math
import os
import pickle
import sys
import zipfile

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "pth")
sys.path.insert(0, HERE)
from make_cnn_goldens import Net, NetBN  # noqa: E402
from make_nn_goldens import idx, make_net  # noqa: E402


def periodic_value(k, fan_in):
    """Element k of a parameter of a layer with `fan_in` inputs: spread over
    +-1/sqrt(fan_in), repeating every 251 elements."""
    return ((k * 37) % 251 / 251 - 0.5) * 2 / math.sqrt(fan_in)


def periodic_init(model):
    fans = {"conv1": 9, "conv2": 288, "fc1": 9216, "fc2": 128, "bn1": 4, "bn2": 4}
    with torch.no_grad():
        for name, p in model.named_parameters():
            fan = fans[name.split(".")[0]]
            values = [periodic_value(k, fan) for k in range(p.numel())]
            if name.startswith("bn") and name.endswith("weight"):
                values = [1 + v for v in values]
            p.copy_(torch.tensor(values, dtype=torch.float64).reshape(p.shape).float())


def save_gz(obj, name):
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_gz(buf.getvalue(), name)


def write_gz(data, name):
    os.makedirs(os.path.dirname(os.path.join(OUT, name)), exist_ok=True)
    # mtime 0: the same bytes from one run to the next.
    with open(os.path.join(OUT, name + ".gz"), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
            g.write(data)


def read_gz(name):
    with gzip.open(os.path.join(OUT, name + ".gz")) as f:
        return f.read()


def images(raw):
    data = idx(raw, "t10k-images-idx3-ubyte.gz")[16:16 + 16 * 784]
    labels = idx(raw, "t10k-labels-idx1-ubyte.gz")[8:8 + 16]
    x = torch.tensor(list(data), dtype=torch.uint8).reshape(16, 1, 28, 28).float() / 255
    return list(data), x, torch.tensor(list(labels), dtype=torch.int64)


def models():
    torch.manual_seed(0)
    mlp = make_net("mlp")
    cnn = Net()
    periodic_init(cnn)
    cnn_bn = NetBN()
    periodic_init(cnn_bn)
    return mlp, cnn, cnn_bn


def checkpoint_run(make_opt, x, y, steps):
    """threeblue trained for `steps` steps from seed 1; returns the model,
    optimizer and last loss."""
    torch.manual_seed(1)
    model = make_net("threeblue")
    opt = make_opt(model.parameters())
    loss = None
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return model, opt, loss.item()


OPTIMIZERS = {
    "checkpoint": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01),
}


class NeuralNetwork(nn.Module):
    """The tutorials' model class: `torch.save(model)` pickles it by name."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)


class Storage:
    """A storage as torch.save refers to it, for hand-made hostile files."""

    def __init__(self, numel, key="0"):
        self.numel, self.key = numel, key


class TensorSpec:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride)

    def __reduce__(self):
        storage, offset, size, stride = self.args
        return (torch._utils._rebuild_tensor_v2,
                (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict()))


class TorchLikePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


class Exec:
    """An object whose unpickling calls `func(*args)`."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def torch_like_zip(pickle_bytes, storages=(), compress=None):
    buf = io.BytesIO()
    # Fixed dates: the same bytes from one run to the next.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl"), pickle_bytes, compress_type=compress)
        z.writestr(zipfile.ZipInfo("archive/byteorder"), b"little")
        for key, data in storages:
            z.writestr(zipfile.ZipInfo(f"archive/data/{key}"), data)
        z.writestr(zipfile.ZipInfo("archive/version"), b"3\n")
    return buf.getvalue()


def dumps(obj, protocol=2):
    buf = io.BytesIO()
    TorchLikePickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def hostile():
    """Files that must be refused; each would create the file `pwned` in the
    working directory if anything in it ran."""
    six_floats = torch.arange(6, dtype=torch.float32).numpy().tobytes()
    files = {
        "os_system": torch_like_zip(dumps({"w": Exec(os.system, "touch pwned")})),
        "builtins_exec": torch_like_zip(dumps({"w": Exec(exec, "open('pwned', 'w').close()")})),
        # Protocol 4 names globals with STACK_GLOBAL: os.system is posix.system.
        "posix_system_stack_global": torch_like_zip(dumps(Exec(os.system, "touch pwned"), protocol=4)),
        "reduce_eval": torch_like_zip(dumps(collections.OrderedDict(
            w=Exec(eval, "__import__('os').system('touch pwned')")))),
        "storage_larger_than_file": torch_like_zip(
            dumps({"w": TensorSpec(Storage(2 ** 40), 0, [2 ** 40], [1])}), [("0", six_floats)]),
        "offset_beyond_storage": torch_like_zip(
            dumps({"w": TensorSpec(Storage(6), 100, [2], [1])}), [("0", six_floats)]),
        "negative_stride": torch_like_zip(
            dumps({"w": TensorSpec(Storage(6), 5, [6], [-1])}), [("0", six_floats)]),
        # 20 MB of pickle compressed to a few kB: refused before inflating.
        "zip_bomb": torch_like_zip(b"\x80\x02" + b"N0" * 10_000_000 + b"N.", compress=zipfile.ZIP_DEFLATED),
        "nested_lists": torch_like_zip(b"\x80\x02" + b"]" * 1_000_000 + b"a" * 999_999 + b"."),
    }
    # torch.save(model): the whole module, its class by name (code).
    whole = io.BytesIO()
    torch.save(NeuralNetwork(), whole)
    files["whole_model"] = whole.getvalue()
    good = io.BytesIO()
    torch.save({"w": torch.arange(6.0)}, good)
    files["truncated_zip"] = good.getvalue()[: len(good.getvalue()) // 2]
    for name, data in files.items():
        try:
            torch.load(io.BytesIO(data), weights_only=True)
            # PyTorch's unpickler is not recursive and reads 10^6 nested lists;
            # kindling refuses nesting beyond 256 levels.
            if name != "nested_lists":
                raise SystemExit(f"torch.load accepted hostile/{name}")
        except SystemExit:
            raise
        except Exception:
            pass
        assert not os.path.exists("pwned")
        write_gz(data, f"hostile/{name}.pth")
    return sorted(files)


def values():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    v = {
        "base": base,
        "row": base[1],
        "col": base[:, 2],
        "t": base.t(),
        "narrow": base[1:, 1:3],
        "f64": torch.tensor([0.5, -1.25], dtype=torch.float64),
        "i64": torch.tensor([[-3, 2 ** 40]], dtype=torch.int64),
        "u8": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "param": nn.Parameter(torch.tensor([1.0, 2.0])),
        "nested": [1, (2.5, "three"), {"four": None, 5: True}],
        "set": {7},
        "bytes": b"\x00ab\xff",
        "size": torch.Size([2, 3]),
        "big": -(2 ** 62),
        "text": "naïve ✓",
    }
    return v


def main(raw):
    data, x, y = images(raw)
    mlp, cnn, cnn_bn = models()
    cnn_bn.train()
    cnn_bn.dropout1.eval()
    cnn_bn.dropout2.eval()
    with torch.no_grad():
        cnn_bn(x)  # running statistics move once
    for m in (mlp, cnn, cnn_bn):
        m.eval()
    cases = {"images": data, "labels": y.tolist(), "logits": {}}
    for name, m in (("mlp", mlp), ("cnn", cnn), ("cnn_bn", cnn_bn)):
        save_gz(m.state_dict(), f"{name}.pth")
        with torch.no_grad():
            cases["logits"][name] = m(x).flatten().tolist()
    for name, make in OPTIMIZERS.items():
        model, opt, loss = checkpoint_run(make, x, y, 2)
        save_gz({"model": model.state_dict(), "optimizer": opt.state_dict(),
                 "epoch": 2, "loss": loss}, f"{name}.pth")
        model, opt, _ = checkpoint_run(make, x, y, 3)
        save_gz(model.state_dict(), f"{name}_step3.pth")
    v = values()
    save_gz(v, "values.pth")
    cases["values_repr"] = {k: repr(val) for k, val in v.items() if not isinstance(val, torch.Tensor)}
    cases["hostile"] = hostile()
    with open(os.path.join(HERE, "pth_cases.json"), "w") as f:
        json.dump(cases, f)
    print("wrote the .pth goldens with torch", torch.__version__)


def check(raw):
    _, x, y = images(raw)
    with open(os.path.join(HERE, "pth_cases.json")) as f:
        cases = json.load(f)
    mlp, cnn, cnn_bn = models()
    out = {"torch": torch.__version__, "logits_max_diff": {}, "step_max_diff": {}}
    for name, m in (("mlp", mlp), ("cnn", cnn), ("cnn_bn", cnn_bn)):
        state = torch.load(io.BytesIO(read_gz(f"{name}_kindling.pth")), weights_only=True)
        assert isinstance(state, collections.OrderedDict), type(state)
        m.load_state_dict(state, strict=True)
        m.eval()
        with torch.no_grad():
            logits = m(x).flatten()
        want = torch.tensor(cases["logits"][name])
        out["logits_max_diff"][name] = (logits - want).abs().max().item()
    for name, make in OPTIMIZERS.items():
        # kindling loaded PyTorch's 2-step checkpoint, took the third step and
        # saved {"model", "optimizer", "epoch": 3}: PyTorch takes a fourth from
        # it, and from its own 3-step run.
        ckpt = torch.load(io.BytesIO(read_gz(f"{name}_kindling.pth")), weights_only=True)
        assert ckpt["epoch"] == 3, ckpt["epoch"]
        torch.manual_seed(1)
        model = make_net("threeblue")
        model.load_state_dict(ckpt["model"], strict=True)
        opt = make(model.parameters())
        opt.load_state_dict(ckpt["optimizer"])
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        own, _, _ = checkpoint_run(make, x, y, 4)
        out["step_max_diff"][name] = max(
            (p - q).abs().max().item() for p, q in zip(model.parameters(), own.parameters()))
    # resnet18: the file torchvision wrote, loaded and written again by kindling.
    import torchvision
    from make_vision_model_goldens import inputs
    with open(os.path.join(HERE, "vision_models.json")) as f:
        vision = json.load(f)["resnet18"]
    resnet = torchvision.models.resnet18()
    resnet.load_state_dict(torch.load(io.BytesIO(read_gz("resnet18_kindling.pth")), weights_only=True), strict=True)
    resnet.eval()
    with torch.no_grad():
        logits = resnet(inputs(vision["input"][0], vision["input"][2]))
    sampled = logits[:, ::7].flatten()
    out["logits_max_diff"]["resnet18"] = (sampled - torch.tensor(vision["logits"])).abs().max().item()
    for what, diffs in (("logits", out["logits_max_diff"]), ("step", out["step_max_diff"])):
        for name, d in diffs.items():
            assert d <= 1e-5, (what, name, d)
    with open(os.path.join(HERE, "pth_kindling_check.json"), "w") as f:
        json.dump(out, f, indent=1)
    print("kindling's .pth files load in torch", torch.__version__, "with weights_only=True, strict=True:", out)


if __name__ == "__main__":
    if "--check" in sys.argv:
        check(sys.argv[1])
    else:
        main(sys.argv[1])
