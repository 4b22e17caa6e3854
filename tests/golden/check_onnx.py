"""Runs kindling's ONNX exports in ONNX Runtime and records the comparison.

    cargo run --release --example write_onnx_goldens -- DIR
    python tests/golden/check_onnx.py MNIST_RAW_DIR DIR

Needs onnx and onnxruntime. For each reference architecture exported by
`examples/write_onnx_goldens.rs` (seed 0 weights): `onnx.checker` with the
full check (shape inference included), ONNX Runtime's logits on the first 100
MNIST test images (as one batch of 100, and as batches of 7, 7, ... 2: the
batch size is dynamic) against kindling's, the parameters the initializers
hold, and whether any initializer is stored twice. Writes
tests/golden/onnx_check.json with each file's MD5; `tests/onnx.rs` checks that
kindling still writes those bytes and that the differences are within 1e-5.
Fails here above 1e-5.
"""
import gzip
import hashlib
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def images(raw):
    with gzip.open(os.path.join(raw, "t10k-images-idx3-ubyte.gz")) as f:
        data = f.read()[16:16 + 100 * 784]
    return (np.frombuffer(data, dtype=np.uint8).reshape(100, 1, 28, 28).astype(np.float32) / 255)


def main(raw, folder):
    x = images(raw)
    with open(os.path.join(folder, "kindling_logits.json")) as f:
        kindling = json.load(f)
    out = {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "models": {}}
    for arch, want in kindling.items():
        path = os.path.join(folder, f"{arch}.onnx")
        with open(path, "rb") as f:
            data = f.read()
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model, full_check=True)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        want = np.array(want, dtype=np.float64).reshape(100, -1)
        (got,) = session.run(None, {"input": x})
        pieces = [session.run(None, {"input": x[i:i + 7]})[0] for i in range(0, 100, 7)]
        got_batches = np.concatenate(pieces)
        inits = model.graph.initializer
        arrays = [numpy_helper.to_array(t) for t in inits]
        digests = [hashlib.md5(a.tobytes()).hexdigest() for a in arrays]
        result = {
            "md5": hashlib.md5(data).hexdigest(),
            "file_bytes": len(data),
            "opset": model.opset_import[0].version,
            "checker": "ok",
            "max_diff": float(np.abs(got - want).max()),
            "max_diff_batches_of_7": float(np.abs(got_batches - want).max()),
            "parameters": int(sum(a.size for a in arrays)),
            "initializers": len(inits),
            "duplicate_initializers": len(digests) - len(set(digests)),
            "input": [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim],
            "ops": sorted({n.op_type for n in model.graph.node}),
        }
        assert result["max_diff"] <= 1e-5 and result["max_diff_batches_of_7"] <= 1e-5, (arch, result)
        out["models"][arch] = result
        print(arch, result)
    with open(os.path.join(HERE, "onnx_check.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
