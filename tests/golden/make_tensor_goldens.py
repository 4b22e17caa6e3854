"""Writes the tensor engine's goldens from PyTorch.

    python tests/golden/make_tensor_goldens.py MNIST_RAW_DIR

Needs torch (CPU is enough). Writes, next to this script:
  print_cases.json  - tensors and the exact text PyTorch prints for them
  ops/FAMILY.json   - per op family (src/ops/FAMILY.rs): inputs, forward
                      values, grad_fn names and gradients of each op's cases
The Rust tests read these files; they never need Python.
"""
import gzip
import json
import math
import os
import sys
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64",
          torch.uint8: "uint8", torch.bool: "bool"}


def encode(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return v


def tensor_json(t):
    t = t.detach()
    return {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
            "values": [encode(v) for v in t.reshape(-1).tolist()]}


def text(t):
    return str(t)


def mnist_images(raw_dir):
    with gzip.open(os.path.join(raw_dir, "train-images-idx3-ubyte.gz")) as f:
        data = f.read()
    n = int.from_bytes(data[4:8], "big")
    return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).reshape(n, 28, 28)


def print_cases(images):
    g = torch.Generator().manual_seed(0)
    cases = []

    def add(name, t, op="none"):
        cases.append({"name": name, "op": op, "tensor": tensor_json(t), "text": None, "_t": t})

    # The lecture's tensors.
    add("lecture_image_13", images[13])
    add("lecture_flatten_13", images[:13].reshape(13, -1))
    add("lecture_max", images[:100].max())
    add("lecture_target", torch.tensor(6))
    # Every dtype, 0-D to 4-D.
    for dtype in [torch.float32, torch.float64]:
        add(f"scalar_{DTYPES[dtype]}", torch.tensor(3.14159, dtype=dtype))
        add(f"vector_{DTYPES[dtype]}", torch.randn(5, generator=g).to(dtype))
        add(f"matrix_{DTYPES[dtype]}", torch.randn(3, 4, generator=g).to(dtype))
        add(f"3d_{DTYPES[dtype]}", torch.randn(2, 3, 4, generator=g).to(dtype))
        add(f"4d_{DTYPES[dtype]}", torch.randn(2, 2, 2, 3, generator=g).to(dtype))
    add("int64_vector", torch.tensor([1, -20, 300, 4000]))
    add("int64_matrix", torch.randint(-1000, 1000, (4, 5), generator=g))
    add("uint8_3d", torch.randint(0, 256, (2, 3, 4), generator=g, dtype=torch.uint8))
    add("uint8_scalar", torch.tensor(7, dtype=torch.uint8))
    add("bool_vector", torch.tensor([True, False, True]))
    add("bool_matrix", torch.randn(3, 3, generator=g) > 0)
    add("bool_scalar", torch.tensor(False))
    # Value ranges that switch formats.
    add("integral_floats", torch.tensor([1.0, 2.0, -3.0, 100.0]))
    add("integral_floats_sci", torch.tensor([1.0, 1e9]))
    add("tiny", torch.tensor([1e-5, 2e-6, 3e-7]))
    add("huge", torch.tensor([1e10, -2e12, 3.5e9]))
    add("wide_range", torch.tensor([0.001, 10.0, 1000.0, 0.5]))
    add("negative", torch.tensor([-0.5, -1.25, -100.125]))
    add("nan_inf", torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5]))
    add("only_nan_inf", torch.tensor([float("nan"), float("inf")]))
    add("zeros_float", torch.zeros(2, 3))
    add("neg_zero", torch.tensor([-0.0, 0.0, 1.0]))
    add("round_half", torch.tensor([0.00005, 0.00015, 0.12345, 2.5]))
    add("mixed_sci", torch.tensor([1.5e-5, 2.0, -3.25e3]))
    add("float64_precise", torch.tensor([1 / 3, 2 / 3], dtype=torch.float64))
    add("empty_1d", torch.zeros(0))
    add("empty_2d", torch.zeros(0, 3))
    add("empty_int", torch.zeros(2, 0, dtype=torch.int64))
    # Summarization.
    add("summarized_vector", torch.arange(2000, dtype=torch.float32) / 7)
    add("summarized_int_vector", torch.arange(1001))
    add("summarized_matrix", torch.randn(40, 50, generator=g))
    add("summarized_3d", torch.randn(10, 10, 11, generator=g))
    add("summarized_rows_only", torch.randn(1001, 1, generator=g))
    add("long_row_wraps", torch.randn(30, generator=g))
    add("long_int_row_wraps", torch.arange(0, 300000, 10000))
    # Suffixes.
    add("leaf_requires_grad", torch.randn(2, 3, generator=g), op="leaf")
    add("mul_grad_fn", torch.randn(3, 10, generator=g), op="mul1")
    add("addmm_grad_fn", torch.randn(6, 10, generator=g), op="addmm_eye")
    add("addmm_grad_fn_summarized", torch.randn(200, 10, generator=g), op="addmm_eye")
    add("sum_grad_fn", torch.tensor([0.25, 0.75]), op="sum")
    add("float64_leaf", torch.randn(2, generator=g).double(), op="leaf")
    add("suffix_wraps", torch.randn(1, 9, generator=g).double(), op="mul1")

    for c in cases:
        t = c.pop("_t")
        if c["op"] == "leaf":
            t = t.clone().requires_grad_(True)
        elif c["op"] == "mul1":
            t = t.clone().requires_grad_(True) * 1.0
        elif c["op"] == "addmm_eye":
            x = t.clone().requires_grad_(True)
            t = torch.addmm(torch.zeros(x.shape[1]), x, torch.eye(x.shape[1]))
        elif c["op"] == "sum":
            t = t.clone().requires_grad_(True).sum()
            c["tensor"] = tensor_json(t)
        c["text"] = text(t)
    return cases


# Each op family's cases go to tests/golden/ops/<family>.json, read by the tests
# in src/ops/<family>.rs. Every case draws from its own generator, seeded by its
# name, so adding a case changes no other.
FAMILIES = {}


def case(family, name, inputs, fn, grad=True, attrs=None):
    ins = [t.clone().requires_grad_(grad and t.dtype.is_floating_point) for t in inputs]
    out = fn(*ins)
    c = {"attrs": attrs or {}, "inputs": [tensor_json(t) for t in inputs],
         "output": tensor_json(out), "grad_fn": type(out.grad_fn).__name__ if out.grad_fn else None}
    if out.requires_grad:
        w = torch.randn(out.shape, generator=gen("w" + name), dtype=out.dtype)
        (out * w).sum().backward()
        c["weight"] = tensor_json(w)
        c["grads"] = [tensor_json(t.grad) if t.grad is not None else None for t in ins]
    FAMILIES.setdefault(family, {})[name] = c


def gen(name):
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def op_cases():
    def family(fam):
        def add(name, make_inputs, fn, grad=True, attrs=None):
            g = gen(name)
            r = lambda *s: torch.randn(*s, generator=g)
            pos = lambda *s: torch.rand(*s, generator=g) + 0.5
            case(fam, name, make_inputs(r, pos), fn, grad, attrs)
        return add

    add = family("elementwise")
    add("add", lambda r, p: [r(3, 1), r(4)], lambda a, b: a + b)
    add("sub", lambda r, p: [r(2, 3), r(3)], lambda a, b: a - b)
    add("mul", lambda r, p: [r(2, 1, 3), r(4, 1)], lambda a, b: a * b)
    add("div", lambda r, p: [r(3, 4), p(4)], lambda a, b: a / b)
    add("add_scalar", lambda r, p: [r(5)], lambda a: a + 2.5)
    add("sub_scalar", lambda r, p: [r(5)], lambda a: a - 2.5)
    add("rsub_scalar", lambda r, p: [r(5)], lambda a: 2.5 - a)
    add("mul_scalar", lambda r, p: [r(5)], lambda a: a * -1.5)
    add("div_scalar", lambda r, p: [r(5)], lambda a: a / 255)
    add("pow_scalar", lambda r, p: [r(6)], lambda a: a ** 2)
    add("pow_scalar_frac", lambda r, p: [p(6)], lambda a: a ** 1.5)
    add("pow", lambda r, p: [p(2, 3), r(3)], lambda a, b: a ** b)
    add("maximum", lambda r, p: [r(4, 3), r(3)], torch.maximum)
    add("minimum", lambda r, p: [r(4, 3), r(3)], torch.minimum)
    add("neg", lambda r, p: [r(4)], lambda a: -a)
    add("abs", lambda r, p: [r(6)], torch.abs)
    add("exp", lambda r, p: [r(3, 3)], torch.exp)
    add("log", lambda r, p: [p(3, 3)], torch.log)
    add("sqrt", lambda r, p: [p(7)], torch.sqrt)
    add("tanh", lambda r, p: [r(7)], torch.tanh)
    add("sigmoid", lambda r, p: [r(4, 5)], torch.sigmoid)
    add("relu", lambda r, p: [r(4, 5)], torch.relu)
    add("gelu", lambda r, p: [r(4, 5) * 2], torch.nn.functional.gelu)
    add("leaky_relu", lambda r, p: [r(4, 5)], lambda a: torch.nn.functional.leaky_relu(a, 0.1), attrs={"slope": 0.1})
    add("sin", lambda r, p: [r(3, 4) * 3], torch.sin)
    add("cos", lambda r, p: [r(3, 4) * 3], torch.cos)
    add("clamp", lambda r, p: [r(10)], lambda a: a.clamp(-0.5, 0.5), attrs={"min": -0.5, "max": 0.5})
    add("clamp_min", lambda r, p: [r(10)], lambda a: a.clamp(min=0.1), attrs={"min": 0.1})
    add("where", lambda r, p: [torch.tensor([True, False, True]), r(2, 3), r(3)], torch.where)
    add("masked_fill", lambda r, p: [r(2, 3), torch.tensor([True, False, True])], lambda a, m: a.masked_fill(m, 0.5))
    add("masked_fill_int", lambda r, p: [torch.tensor([[1, 2, 3], [4, 5, 6]]), torch.tensor([[True], [False]])],
        lambda a, m: a.masked_fill(m, 2.7))
    add("uint8_div_255", lambda r, p: [torch.tensor([0, 1, 128, 255], dtype=torch.uint8)], lambda a: a / 255)
    add("uint8_add_wraps", lambda r, p: [torch.tensor([250, 5], dtype=torch.uint8)], lambda a: a + 10)
    add("int_true_div", lambda r, p: [torch.tensor([1, 2, 3]), torch.tensor([2, 2, 2])], lambda a, b: a / b)
    add("int_mul_float", lambda r, p: [torch.tensor([1, 2, 3])], lambda a: a * 0.5)
    add("int_exp", lambda r, p: [torch.tensor([0, 1, 2])], torch.exp)
    add("int_sin", lambda r, p: [torch.tensor([0, 1, 2])], torch.sin)
    add("compare_gt", lambda r, p: [r(5), r(5)], lambda a, b: a > b, grad=False)
    add("compare_eq_int", lambda r, p: [torch.tensor([1, 2, 3]), torch.tensor([3, 2, 1])], lambda a, b: a == b)

    add = family("reduce")
    add("sum", lambda r, p: [r(3, 4)], lambda a: a.sum())
    add("sum_dim", lambda r, p: [r(3, 4, 2)], lambda a: a.sum(1), attrs={"dim": 1, "keepdim": False})
    add("sum_dim_keep", lambda r, p: [r(3, 4)], lambda a: a.sum(-1, keepdim=True), attrs={"dim": -1, "keepdim": True})
    add("uint8_sum", lambda r, p: [torch.tensor([200, 100, 255], dtype=torch.uint8)], lambda a: a.sum())
    add("bool_sum", lambda r, p: [torch.tensor([True, False, True])], lambda a: a.sum())
    add("mean", lambda r, p: [r(3, 4)], lambda a: a.mean())
    add("mean_dim", lambda r, p: [r(3, 4)], lambda a: a.mean(0), attrs={"dim": 0, "keepdim": False})
    add("max", lambda r, p: [r(3, 4)], lambda a: a.max())
    add("min", lambda r, p: [r(3, 4)], lambda a: a.min())
    add("max_dim", lambda r, p: [r(3, 5)], lambda a: a.max(dim=1).values, attrs={"dim": 1, "keepdim": False})
    add("max_dim_indices", lambda r, p: [r(3, 5)], lambda a: a.max(dim=1).indices, grad=False, attrs={"dim": 1})
    add("min_dim", lambda r, p: [r(4, 3)], lambda a: a.min(dim=0, keepdim=True).values, attrs={"dim": 0, "keepdim": True})
    add("argmax", lambda r, p: [r(3, 5)], lambda a: a.argmax(), grad=False)
    add("argmax_dim", lambda r, p: [r(3, 5)], lambda a: a.argmax(dim=1), grad=False, attrs={"dim": 1})
    add("argmin_dim", lambda r, p: [r(3, 5)], lambda a: a.argmin(dim=0), grad=False, attrs={"dim": 0})
    add("prod", lambda r, p: [p(2, 3)], lambda a: a.prod())
    add("prod_with_zero", lambda r, p: [torch.tensor([2.0, 0.0, 3.0, 4.0])], lambda a: a.prod())
    add("prod_dim", lambda r, p: [r(3, 4)], lambda a: a.prod(1), attrs={"dim": 1, "keepdim": False})
    add("var", lambda r, p: [r(3, 4)], lambda a: a.var())
    add("var_dim", lambda r, p: [r(3, 4)], lambda a: a.var(1), attrs={"dim": 1, "keepdim": False})
    add("std", lambda r, p: [r(3, 4)], lambda a: a.std())
    add("std_dim", lambda r, p: [r(3, 4)], lambda a: a.std(0, keepdim=True), attrs={"dim": 0, "keepdim": True})
    add("cumsum", lambda r, p: [r(3, 4)], lambda a: a.cumsum(1), attrs={"dim": 1})
    add("cumsum_dim0", lambda r, p: [r(4, 2, 3)], lambda a: a.cumsum(0), attrs={"dim": 0})
    add("int_cumsum", lambda r, p: [torch.tensor([[1, 2, 3], [4, 5, 6]])], lambda a: a.cumsum(1), attrs={"dim": 1})
    add("uint8_cumsum", lambda r, p: [torch.tensor([200, 100, 255], dtype=torch.uint8)], lambda a: a.cumsum(0), attrs={"dim": 0})

    add = family("softmax")
    add("softmax", lambda r, p: [r(3, 5)], lambda a: a.softmax(1), attrs={"dim": 1})
    add("softmax_dim0", lambda r, p: [r(3, 5)], lambda a: a.softmax(0), attrs={"dim": 0})
    add("softmax_3d", lambda r, p: [r(2, 3, 4)], lambda a: a.softmax(1), attrs={"dim": 1})
    add("log_softmax", lambda r, p: [r(3, 5) * 10], lambda a: a.log_softmax(1), attrs={"dim": 1})

    add = family("matmul")
    add("mm", lambda r, p: [r(4, 3), r(3, 5)], torch.mm)
    add("addmm", lambda r, p: [r(5), r(4, 3), r(3, 5)], torch.addmm)
    add("linear_784", lambda r, p: [r(10), r(13, 784), r(10, 784)], lambda b, x, w: torch.addmm(b, x, w.t()))
    add("matmul_1d_1d", lambda r, p: [r(4), r(4)], torch.matmul)
    add("matmul_2d_1d", lambda r, p: [r(3, 4), r(4)], torch.matmul)
    add("matmul_1d_2d", lambda r, p: [r(4), r(4, 2)], torch.matmul)
    add("matmul_3d_2d", lambda r, p: [r(2, 3, 4), r(4, 5)], torch.matmul)
    add("matmul_3d_3d", lambda r, p: [r(2, 3, 4), r(2, 4, 5)], torch.matmul)
    add("matmul_broadcast", lambda r, p: [r(2, 1, 3, 4), r(3, 4, 2)], torch.matmul)
    add("chain_linear_sigmoid_softmax", lambda r, p: [r(2, 6), r(4, 6), r(4)],
        lambda x, w, b: torch.softmax(torch.sigmoid(torch.addmm(b, x, w.t())), 1))

    add = family("shape")
    add("reshape", lambda r, p: [r(3, 4)], lambda a: a.reshape(2, 6))
    add("reshape_copy", lambda r, p: [r(3, 4)], lambda a: a.t().reshape(12))
    add("flatten", lambda r, p: [r(2, 3, 4)], lambda a: a.flatten(1))
    add("squeeze", lambda r, p: [r(3, 1, 4)], lambda a: a.squeeze())
    add("squeeze_dim", lambda r, p: [r(3, 1, 4)], lambda a: a.squeeze(1), attrs={"dim": 1})
    add("unsqueeze", lambda r, p: [r(3, 4)], lambda a: a.unsqueeze(1), attrs={"dim": 1})
    add("permute", lambda r, p: [r(2, 3, 4)], lambda a: a.permute(2, 0, 1))
    add("transpose", lambda r, p: [r(2, 3, 4)], lambda a: a.transpose(0, 2))
    add("t", lambda r, p: [r(3, 4)], lambda a: a.t())
    add("narrow", lambda r, p: [r(5, 4)], lambda a: a.narrow(0, 1, 3))
    add("slice_step", lambda r, p: [r(10, 3)], lambda a: a[1:9:3])
    add("select", lambda r, p: [r(4, 3)], lambda a: a[2])
    add("select_dim1", lambda r, p: [r(4, 3)], lambda a: a.select(1, -1))
    add("expand", lambda r, p: [r(3, 1)], lambda a: a.expand(2, 3, 4))
    add("flip", lambda r, p: [r(3, 4)], lambda a: a.flip(1), attrs={"dims": [1]})
    add("flip_dims", lambda r, p: [r(2, 3, 4)], lambda a: a.flip(0, 2), attrs={"dims": [0, 2]})
    add("int_flip", lambda r, p: [torch.tensor([[1, 2, 3], [4, 5, 6]])], lambda a: a.flip(-1), attrs={"dims": [-1]})
    add("roll", lambda r, p: [r(3, 4)], lambda a: a.roll(1, 1), attrs={"shifts": [1], "dims": [1]})
    add("roll_dims", lambda r, p: [r(2, 3, 4)], lambda a: a.roll((-4, 2), (2, 0)), attrs={"shifts": [-4, 2], "dims": [2, 0]})
    add("roll_flat", lambda r, p: [r(3, 4)], lambda a: a.roll(5), attrs={"shifts": [5]})
    add("int_roll", lambda r, p: [torch.tensor([[1, 2, 3], [4, 5, 6]])], lambda a: a.roll(-1, -1), attrs={"shifts": [-1], "dims": [-1]})

    # t[...] as Python writes it (kindling: t.i(...)), and t[...] = v.
    add("index_int", lambda r, p: [r(4, 3)], lambda a: a[2])
    add("index_neg", lambda r, p: [r(4, 3)], lambda a: a[-1])
    add("index_col", lambda r, p: [r(3, 4)], lambda a: a[:, 0])
    add("index_ellipsis_last", lambda r, p: [r(2, 3, 4)], lambda a: a[..., -1])
    add("index_range_neg", lambda r, p: [r(5, 3)], lambda a: a[-2:])
    add("index_int_range", lambda r, p: [r(3, 4)], lambda a: a[1, 1:3])
    add("index_newaxis", lambda r, p: [r(3)], lambda a: a[None, 1:])
    add("index_full", lambda r, p: [r(2, 2)], lambda a: a[:])
    add("index_int_tensor_ellipsis", lambda r, p: [torch.arange(12).reshape(3, 4)], lambda a: a[..., 1:])
    add("index_mask", lambda r, p: [r(2, 3), torch.tensor([[True, False, True], [False, False, True]])], lambda a, m: a[m])
    add("index_mask_rows", lambda r, p: [r(3, 2), torch.tensor([True, False, True])], lambda a, m: a[m])
    add("index_mask_after_col", lambda r, p: [r(2, 3), torch.tensor([False, True, True])], lambda a, m: a[:, m])
    add("index_tensor", lambda r, p: [r(4, 3), torch.tensor([3, 0, 3])], lambda a, i: a[i])
    add("index_tensor_2d_col", lambda r, p: [r(3, 4), torch.tensor([[0, 2], [1, 1]])], lambda a, i: a[:, i])
    add("index_tensor_neg", lambda r, p: [r(4), torch.tensor([-1, 0])], lambda a, i: a[i])

    def setitem(fn):
        def run(a, *rest):
            a = a.clone()
            fn(a, *rest)
            return a
        return run

    def put_col(a):
        a[:, 1] = 0
    def put_mask(a, m):
        a[m] = -1.5
    def put_rows(a, i, v):
        a[i] = v
    def put_ellipsis(a, v):
        a[..., 0] = v
    add("index_put_col", lambda r, p: [r(2, 3)], setitem(put_col), grad=False)
    add("index_put_mask", lambda r, p: [r(2, 3), torch.tensor([[True, False, True], [False, True, False]])], setitem(put_mask), grad=False)
    add("index_put_rows", lambda r, p: [r(4, 3), torch.tensor([2, 0]), r(2, 3)], setitem(put_rows), grad=False)
    add("index_put_ellipsis_broadcast", lambda r, p: [r(2, 3, 2), r(3)], setitem(put_ellipsis), grad=False)

    add = family("index")
    add("index_select", lambda r, p: [r(5, 3), torch.tensor([4, 0, 4])], lambda a, i: a.index_select(0, i))
    add("gather", lambda r, p: [r(3, 4), torch.tensor([[0, 3], [1, 1], [2, 0]])], lambda a, i: a.gather(1, i))
    add("scatter_add", lambda r, p: [r(3, 4), torch.tensor([[0, 3], [1, 1], [2, 0]]), r(3, 2)], lambda a, i, s: a.scatter_add(1, i, s))
    add("cat", lambda r, p: [r(2, 3), r(1, 3)], lambda a, b: torch.cat([a, b], 0))
    add("cat_dim1", lambda r, p: [r(2, 3), r(2, 1)], lambda a, b: torch.cat([a, b], 1))
    add("stack", lambda r, p: [r(2, 3), r(2, 3)], lambda a, b: torch.stack([a, b], 1))

    add("scatter_src", lambda r, p: [r(3, 4), torch.tensor([[0, 3], [1, 2], [2, 0]]), r(3, 2)], lambda a, i, s: a.scatter(1, i, s))
    add("scatter_src_dim0", lambda r, p: [r(3, 4), torch.tensor([[2, 0, 1, 0]]), r(1, 4)], lambda a, i, s: a.scatter(0, i, s))
    add("scatter_value", lambda r, p: [r(3, 4), torch.tensor([[0], [2], [1]])], lambda a, i: a.scatter(1, i, 1.5))
    add("scatter_int_value", lambda r, p: [torch.zeros(2, 4, dtype=torch.int64), torch.tensor([[1, 3], [0, 0]])],
        lambda a, i: a.scatter(1, i, 7))
    add("scatter_inplace_one_hot", lambda r, p: [torch.zeros(3, 4), torch.tensor([[3], [0], [1]])],
        lambda a, i: a.clone().scatter_(1, i, 1.0), grad=False)
    add("masked_select", lambda r, p: [r(2, 3), torch.tensor([True, False, True])], lambda a, m: a.masked_select(m))
    add("masked_select_broadcast_x", lambda r, p: [r(3), torch.tensor([[True, False, True], [False, True, True]])],
        lambda a, m: torch.masked_select(a, m))
    add("masked_select_int", lambda r, p: [torch.tensor([[1, 2], [3, 4]]), torch.tensor([[False, True], [True, True]])],
        lambda a, m: a[m])
    add("nonzero", lambda r, p: [torch.tensor([[0, 1, 0], [2, 0, 3]])], torch.nonzero)
    add("nonzero_bool", lambda r, p: [torch.tensor([True, False, False, True])], torch.nonzero)
    add("nonzero_float", lambda r, p: [torch.tensor([[0.0, -0.5], [0.0, 0.0], [2.0, 0.0]])], torch.nonzero, grad=False)
    add("one_hot", lambda r, p: [torch.tensor([0, 2, 1])], lambda t: torch.nn.functional.one_hot(t, 4), attrs={"num_classes": 4})
    add("one_hot_infer", lambda r, p: [torch.tensor([[1, 0], [3, 2]])], lambda t: torch.nn.functional.one_hot(t),
        attrs={"num_classes": -1})

    add = family("sort")
    add("sort", lambda r, p: [r(3, 4)], lambda a: a.sort(1).values)
    add("sort_indices", lambda r, p: [r(3, 4)], lambda a: a.sort(1).indices)
    add("sort_descending", lambda r, p: [r(4, 3)], lambda a: a.sort(0, descending=True).values)
    add("sort_descending_indices", lambda r, p: [r(4, 3)], lambda a: a.sort(0, descending=True).indices)
    nan = float("nan")
    add("sort_nan", lambda r, p: [torch.tensor([[1.0, nan, -2.0, 0.5], [0.25, 3.0, nan, -1.0]])], lambda a: a.sort(-1).values)
    add("sort_nan_indices", lambda r, p: [torch.tensor([[1.0, nan, -2.0, 0.5], [0.25, 3.0, nan, -1.0]])],
        lambda a: a.sort(-1, descending=True).indices)
    add("sort_int_ties", lambda r, p: [torch.tensor([[3, 1, 3, 2, 1], [0, 0, 5, 0, 1]])], lambda a: a.sort(stable=True, dim=-1).indices)
    add("argsort", lambda r, p: [r(3, 4)], lambda a: a.argsort(-1))
    add("argsort_descending", lambda r, p: [r(4, 3)], lambda a: a.argsort(0, descending=True))
    add("topk", lambda r, p: [r(3, 5)], lambda a: a.topk(2).values)
    add("topk_indices", lambda r, p: [r(3, 5)], lambda a: a.topk(2).indices)
    add("topk_smallest", lambda r, p: [r(5, 3)], lambda a: a.topk(3, 0, largest=False).values)
    add("topk_int", lambda r, p: [torch.tensor([[5, 1, 9, 3], [2, 8, 4, 7]])], lambda a: a.topk(2, 1).values)

    add = family("creation")
    add("full_like", lambda r, p: [r(2, 3)], lambda a: torch.full_like(a, 7), grad=False)
    add("full_like_int", lambda r, p: [torch.tensor([1, 2, 3])], lambda a: torch.full_like(a, 2.7), grad=False)
    add("zeros_like_uint8", lambda r, p: [torch.tensor([1, 2], dtype=torch.uint8)], torch.zeros_like, grad=False)
    add("ones_like_double", lambda r, p: [torch.zeros(2, 2, dtype=torch.float64)], torch.ones_like, grad=False)
    add("eye", lambda r, p: [], lambda: torch.eye(3), grad=False)
    add("eye_rect", lambda r, p: [], lambda: torch.eye(2, 3), grad=False)
    add("eye_tall", lambda r, p: [], lambda: torch.eye(4, 2), grad=False)

    add = family("elementwise")  # in-place arithmetic, next to the out-of-place ops
    add("add_inplace_scalar", lambda r, p: [r(4)], lambda a: a.clone().add_(5), grad=False)
    add("mul_inplace_scalar", lambda r, p: [r(4)], lambda a: a.clone().mul_(2.0), grad=False)
    add("sub_inplace_tensor", lambda r, p: [r(2, 3), r(3)], lambda a, b: a.clone().sub_(b), grad=False)
    add("div_inplace_scalar", lambda r, p: [r(4)], lambda a: a.clone().div_(4), grad=False)
    add("add_inplace_int", lambda r, p: [torch.tensor([1, 2, 3])], lambda a: a.clone().add_(5), grad=False)
    add("mul_inplace_uint8_int", lambda r, p: [torch.tensor([3, 100, 200], dtype=torch.uint8)], lambda a: a.clone().mul_(2),
        grad=False)
    add("add_inplace_float_of_int", lambda r, p: [r(3), torch.tensor([1, 2, 3])], lambda a, b: a.clone().add_(b), grad=False)

    add = family("clip_grad")

    def clip(max_norm, norm_type):
        def fn(*grads):
            params = [torch.zeros_like(g, requires_grad=True) for g in grads]
            for p, g in zip(params, grads):
                p.grad = g.clone()
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
            return torch.cat([p.grad.reshape(-1) for p in params] + [norm.reshape(1)])
        return fn
    add("clip_grad_norm", lambda r, p: [r(3, 2), r(4)], clip(0.5, 2.0), grad=False, attrs={"max_norm": 0.5})
    add("clip_grad_norm_not_needed", lambda r, p: [r(3) * 0.01, r(2) * 0.01], clip(1.0, 2.0), grad=False, attrs={"max_norm": 1.0})
    add("clip_grad_norm_inf", lambda r, p: [r(3, 2), r(4)], clip(0.5, float("inf")), grad=False, attrs={"max_norm": 0.5})
    add("clip_grad_norm_p1", lambda r, p: [r(5), r(2, 2)], clip(2.0, 1.0), grad=False, attrs={"max_norm": 2.0})

    add = family("loss")
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    add("bce_with_logits", lambda r, p: [r(3, 2), torch.rand(3, 2, generator=gen("tbce"))], lambda x, t: bce(x, t),
        attrs={"reduction": "mean"})
    add("bce_with_logits_sum", lambda r, p: [r(4), torch.tensor([0.0, 1.0, 1.0, 0.0])], lambda x, t: bce(x, t, reduction="sum"),
        attrs={"reduction": "sum"})
    add("bce_with_logits_none", lambda r, p: [r(2, 3), torch.rand(2, 3, generator=gen("tbce2"))],
        lambda x, t: bce(x, t, reduction="none"), attrs={"reduction": "none"})
    add("bce_with_logits_large", lambda r, p: [torch.tensor([1000.0, -1000.0, 30.0]), torch.tensor([0.0, 1.0, 1.0])],
        lambda x, t: bce(x, t), attrs={"reduction": "mean"})

    add = family("conv")
    F = torch.nn.functional

    def conv(name, shapes, **kw):
        def make(r, p):
            return [r(*s) for s in shapes]
        attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        add(name, make, lambda x, w, b=None: F.conv2d(x, w, b, **kw), attrs=attrs)

    conv("conv2d_basic", [(2, 3, 6, 6), (4, 3, 3, 3), (4,)])
    conv("conv2d_no_bias", [(1, 2, 5, 5), (3, 2, 3, 3)])
    conv("conv2d_stride_padding", [(2, 2, 7, 6), (3, 2, 3, 3), (3,)], stride=(2, 1), padding=(1, 2))
    conv("conv2d_dilation", [(1, 2, 8, 7), (2, 2, 3, 2), (2,)], dilation=(2, 3), padding=1)
    conv("conv2d_groups", [(2, 4, 5, 5), (6, 2, 3, 3), (6,)], groups=2, stride=2)
    conv("conv2d_depthwise", [(1, 3, 6, 6), (3, 1, 3, 3), (3,)], groups=3, padding=1)
    conv("conv2d_same_even_kernel", [(1, 2, 5, 6), (3, 2, 2, 4), (3,)], padding="same")
    conv("conv2d_same_dilated", [(1, 1, 6, 6), (2, 1, 3, 3)], padding="same", dilation=2)
    conv("conv2d_valid", [(1, 2, 4, 4), (1, 2, 3, 3)], padding="valid")
    conv("conv2d_rect_odd", [(3, 2, 9, 4), (2, 2, 5, 1), (2,)], stride=(3, 2), padding=(2, 0))
    conv("conv2d_unbatched", [(2, 5, 5), (3, 2, 3, 3), (3,)])
    conv("conv2d_cnn_like", [(2, 4, 12, 12), (8, 4, 3, 3), (8,)])
    add("conv2d_float64", lambda r, p: [r(2, 2, 5, 5).double(), r(3, 2, 3, 3).double(), r(3).double()],
        lambda x, w, b: F.conv2d(x, w, b, padding=1), attrs={"padding": 1})

    add = family("pool")

    def pool(name, shape, **kw):
        attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        add(name, lambda r, p: [r(*shape)], lambda x: F.max_pool2d(x, **kw), attrs=attrs)

    pool("max_pool2d_2", (2, 3, 6, 6), kernel_size=2)
    pool("max_pool2d_stride_padding", (1, 2, 7, 7), kernel_size=3, stride=2, padding=1)
    pool("max_pool2d_dilation", (1, 2, 9, 8), kernel_size=(3, 2), dilation=(2, 3), stride=1)
    pool("max_pool2d_ceil_mode", (1, 2, 7, 5), kernel_size=2, ceil_mode=True)
    pool("max_pool2d_ceil_mode_padding", (2, 1, 8, 6), kernel_size=3, stride=2, padding=1, ceil_mode=True)
    pool("max_pool2d_rect", (1, 2, 9, 4), kernel_size=(3, 1), stride=(3, 2))
    pool("max_pool2d_overlapping", (1, 1, 6, 7), kernel_size=3, stride=1)
    pool("max_pool2d_unbatched", (3, 6, 6), kernel_size=2)
    add("max_pool2d_float64", lambda r, p: [r(1, 2, 6, 6).double()], lambda x: F.max_pool2d(x, 2),
        attrs={"kernel_size": 2})
    add("max_pool2d_ties_and_nan",
        lambda r, p: [torch.tensor([[[[1.0, 1.0, 0.0, float("nan")], [1.0, 0.5, 2.0, 2.0],
                                      [-1.0, -2.0, float("nan"), 3.0], [-1.0, -1.0, float("nan"), 3.0]]]])],
        lambda x: F.max_pool2d(x, 2), attrs={"kernel_size": 2})
    add("max_pool2d_empty_window", lambda r, p: [torch.tensor([[[[5.0], [7.0]]]])],
        lambda x: F.max_pool2d(x, (1, 2), stride=1, padding=(0, 1), dilation=(1, 2)),
        attrs={"kernel_size": [1, 2], "stride": 1, "padding": [0, 1], "dilation": [1, 2]})
    add("max_pool2d_indices", lambda r, p: [r(1, 2, 7, 6)],
        lambda x: F.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)[1], grad=False)

    def avg(name, shape, **kw):
        attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        add(name, lambda r, p: [r(*shape)], lambda x: F.avg_pool2d(x, **kw), attrs=attrs)

    avg("avg_pool2d_2", (2, 3, 6, 6), kernel_size=2)
    avg("avg_pool2d_stride_padding", (1, 2, 7, 7), kernel_size=3, stride=2, padding=1)
    avg("avg_pool2d_no_pad_count", (1, 2, 7, 6), kernel_size=3, stride=2, padding=1, count_include_pad=False)
    avg("avg_pool2d_ceil_mode", (2, 1, 8, 6), kernel_size=3, stride=2, padding=1, ceil_mode=True)
    avg("avg_pool2d_divisor", (1, 2, 6, 5), kernel_size=(3, 2), divisor_override=4)
    avg("avg_pool2d_unbatched", (3, 6, 6), kernel_size=2)

    def adaptive(name, shape, size):
        add(name, lambda r, p: [r(*shape)], lambda x: F.adaptive_avg_pool2d(x, size),
            attrs={"output_size": list(size) if isinstance(size, tuple) else size})

    adaptive("adaptive_avg_pool2d_1", (2, 3, 5, 5), 1)
    adaptive("adaptive_avg_pool2d_uneven", (1, 2, 7, 5), (3, 2))
    adaptive("adaptive_avg_pool2d_larger", (1, 1, 3, 4), (5, 6))
    adaptive("adaptive_avg_pool2d_unbatched", (2, 7, 7), 3)

    def adaptive_max(name, shape, size):
        add(name, lambda r, p: [r(*shape)], lambda x: F.adaptive_max_pool2d(x, size),
            attrs={"output_size": list(size) if isinstance(size, tuple) else size})

    adaptive_max("adaptive_max_pool2d_1", (2, 3, 5, 5), 1)
    adaptive_max("adaptive_max_pool2d_uneven", (1, 2, 7, 5), (3, 2))
    adaptive_max("adaptive_max_pool2d_overlapping", (2, 2, 5, 7), (3, 4))
    adaptive_max("adaptive_max_pool2d_larger", (1, 1, 3, 4), (5, 6))
    adaptive_max("adaptive_max_pool2d_unbatched", (2, 7, 7), 3)
    add("adaptive_max_pool2d_float64", lambda r, p: [r(1, 2, 6, 5).double()],
        lambda x: F.adaptive_max_pool2d(x, (4, 3)), attrs={"output_size": [4, 3]})
    add("adaptive_max_pool2d_ties_and_nan",
        lambda r, p: [torch.tensor([[[[1.0, 1.0, float("nan")], [1.0, float("nan"), 2.0]]]])],
        lambda x: F.adaptive_max_pool2d(x, (1, 2)), attrs={"output_size": [1, 2]})
    add("adaptive_max_pool2d_indices", lambda r, p: [r(2, 3, 7, 6)],
        lambda x: F.adaptive_max_pool2d(x, (3, 4), return_indices=True)[1], grad=False)

    add = family("norm")

    def stats(c, dtype=torch.float32):
        # Running statistics both sides build from the channel count alone.
        return torch.linspace(-0.5, 0.5, c, dtype=dtype), torch.linspace(0.5, 2.0, c, dtype=dtype)

    def bn(name, shape, affine=True, running=True, training=True, momentum=0.1, eps=1e-5, double=False):
        c = shape[1]
        dt = torch.float64 if double else torch.float32

        def make(r, p):
            ins = [r(*shape).to(dt)]
            return ins + ([r(c).to(dt), r(c).to(dt)] if affine else [])

        def fn(x, w=None, b=None):
            rm, rv = stats(c, dt) if running else (None, None)
            return F.batch_norm(x, rm, rv, w, b, training=training, momentum=momentum, eps=eps)
        add(name, make, fn, attrs={"training": training, "momentum": momentum, "eps": eps, "running": running})

    bn("batch_norm_train_2d", (4, 3, 3, 2))
    bn("batch_norm_eval_2d", (4, 3, 3, 2), training=False)
    bn("batch_norm_train_1d", (5, 4))
    bn("batch_norm_train_1d_length", (3, 4, 5))
    bn("batch_norm_eval_1d", (5, 4), training=False, eps=1e-3)
    bn("batch_norm_no_affine_no_stats", (2, 3, 2, 2), affine=False, running=False)
    bn("batch_norm_float64", (3, 2, 2, 3), double=True)

    def bn_update(name, shape, which, momentum):
        c = shape[1]

        def fn(x):
            rm, rv = stats(c)
            F.batch_norm(x, rm, rv, training=True, momentum=momentum)
            return rm if which == "mean" else rv
        add(name, lambda r, p: [r(*shape) * 3 + 1], fn, grad=False, attrs={"momentum": momentum, "which": which})

    bn_update("batch_norm_running_mean", (6, 3, 2, 2), "mean", 0.3)
    bn_update("batch_norm_running_var", (6, 3, 2, 2), "var", 0.3)
    bn_update("batch_norm_running_var_1d", (5, 4), "var", 0.1)

    def ln(name, shape, normalized, affine=True, eps=1e-5, double=False):
        dt = torch.float64 if double else torch.float32

        def make(r, p):
            ins = [r(*shape).to(dt)]
            return ins + ([r(*normalized).to(dt), r(*normalized).to(dt)] if affine else [])
        add(name, make, lambda x, w=None, b=None: F.layer_norm(x, normalized, w, b, eps),
            attrs={"normalized_shape": list(normalized), "eps": eps})

    ln("layer_norm_last", (3, 4, 5), (5,))
    ln("layer_norm_two_dims", (2, 3, 4), (3, 4))
    ln("layer_norm_no_affine", (4, 6), (6,), affine=False, eps=1e-3)
    ln("layer_norm_float64", (2, 5), (5,), double=True)

    add = family("convert")
    add("to_float64", lambda r, p: [r(4)], lambda a: a.double())
    add("contiguous", lambda r, p: [r(3, 4)], lambda a: a.t().contiguous())
    return FAMILIES


if __name__ == "__main__":
    images = mnist_images(sys.argv[1])
    with open(os.path.join(HERE, "print_cases.json"), "w") as f:
        json.dump(print_cases(images), f)
    os.makedirs(os.path.join(HERE, "ops"), exist_ok=True)
    for family, cases in op_cases().items():
        with open(os.path.join(HERE, "ops", f"{family}.json"), "w") as f:
            json.dump(cases, f)
    print("wrote print_cases.json and ops/*.json with torch", torch.__version__)
