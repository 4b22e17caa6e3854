"""The side-by-side benchmark of BENCHMARKS.md: PyTorch and kindling, alternately,
on the same machine, same jobs, same data; prints a Markdown table with ratios.

    cargo build --release
    python benches/side_by_side.py DATA_ROOT [ROUNDS] [THREADS]
    python benches/side_by_side.py DATA_ROOT --cnn [THREADS] [ROUNDS]

THREADS is kindling's thread count (default: the cores, as PyTorch's default).
With --cnn it is both sides' (PyTorch, ONNX Runtime's intra-op threads and
kindling's), and the job is `cnn` (benches/pytorch_cnn.py's `bench` against
`kindling bench --jobs cnn`), ROUNDS rounds (default 1; a round takes about
three minutes), each side's best time kept per row, as for the other jobs:
each round's figures go to stderr.

DATA_ROOT holds MNIST/raw/*.gz (kindling reads them; PyTorch gets a decompressed
copy in a temporary folder). Needs torch and torchvision (PyPI). Each side runs
in its own process; per job the best time over all rounds is kept.
"""
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
data = os.path.abspath(sys.argv[1])
cnn = len(sys.argv) > 2 and sys.argv[2] == "--cnn"
rounds = 1 if cnn else int(sys.argv[2]) if len(sys.argv) > 2 else 2
threads = sys.argv[3] if len(sys.argv) > 3 else str(os.cpu_count())
raw = tempfile.mkdtemp()
os.makedirs(os.path.join(raw, "MNIST", "raw"))
for f in os.listdir(os.path.join(data, "MNIST", "raw")):
    with gzip.open(os.path.join(data, "MNIST", "raw", f)) as a, open(os.path.join(raw, "MNIST", "raw", f[:-3]), "wb") as b:
        shutil.copyfileobj(a, b)

kindling = os.path.join(REPO, "target", "release", "kindling")
if cnn:
    cnn_rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    torch_rounds, our_rounds = [], []
    for r in range(cnn_rounds):
        torch_rounds.append(json.loads(subprocess.check_output([sys.executable, os.path.join(HERE, "pytorch_cnn.py"), raw, "bench", threads])))
        our_rounds.append(json.loads(subprocess.check_output([kindling, "bench", "--json", "--jobs", "cnn", "--runs", "1", "--threads", threads, "--root", data, "--no-download"])))
        print(f"round {r + 1}/{cnn_rounds}: torch {json.dumps(torch_rounds[-1])}", file=sys.stderr)
        print(f"round {r + 1}/{cnn_rounds}: kindling {json.dumps(our_rounds[-1])}", file=sys.stderr)
    shutil.rmtree(raw)

    def best_of(runs):
        """The first run, each time replaced by the best over the runs and
        the peak memory by the largest."""
        out = dict(runs[0])
        for key, value in runs[0].items():
            if (key.endswith("_s") or "_s_" in key) and "per_s" not in key:
                out[key] = min(run[key] for run in runs)
            elif key == "peak_rss_mib":
                out[key] = max(run[key] for run in runs)
        return out

    torch_side = best_of(torch_rounds)
    ours = best_of(our_rounds)
    ours["jobs"] = [best_of([run["jobs"][0] for run in our_rounds])]
    k = ours["jobs"][0]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores; torch {torch_side['torch']}, onnxruntime {torch_side['onnxruntime']}; {threads} thread(s) each")
    print()
    print("| `cnn` | PyTorch | ONNX Runtime | kindling | kindling / PyTorch | kindling / ONNX Runtime |")
    print("| --- | --- | --- | --- | --- | --- |")
    pt, ke = torch_side["epoch_s"], k["epoch_s_min"]
    print(f"| epoch (SGD lr 0.05, batch 64) | {pt:.1f} s | | {ke:.1f} s | {ke / pt:.2f}x | |")
    pb, po, ox, ki = torch_side["infer10k_s_batches_of_1000"], torch_side["infer10k_s_one_batch"], torch_side["onnx_infer10k_s_batches_of_1000"], k["infer10k_s_min"]
    print(f"| inference, 10k images | {pb:.2f} s (by 1000), {po:.2f} s (one batch) | {ox:.2f} s (by 1000) | {ki:.2f} s (by {100}) | {ki / pb:.2f}x | {ki / ox:.2f}x |")
    p1, o1, k1 = torch_side["infer1_s_median"], torch_side["onnx_infer1_s_median"], k["infer1_s_median"]
    print(f"| inference, 1 image (median) | {p1 * 1e6:.0f} µs | {o1 * 1e6:.0f} µs | {k1 * 1e6:.0f} µs | {k1 / p1:.2f}x | {k1 / o1:.2f}x |")
    pr, kr = torch_side["peak_rss_mib"], ours["peak_rss_mib"]
    print(f"| peak RSS (whole process) | {pr:.0f} MiB | | {kr:.0f} MiB | {kr / pr:.2f}x | |")
    print(f"| test accuracy after 1 epoch | {torch_side['test_accuracy'] * 100:.2f}% | | {k['test_accuracy'] * 100:.2f}% | | |")
    sys.exit(0)
torch_runs, kindling_runs = [], []
for r in range(rounds):
    torch_runs.append(json.loads(subprocess.check_output([sys.executable, os.path.join(HERE, "pytorch_jobs.py"), raw, "3"])))
    kindling_runs.append(json.loads(subprocess.check_output([kindling, "bench", "--json", "--runs", "5", "--threads", threads, "--root", data, "--no-download"])))
    print(f"round {r + 1}/{rounds} done", file=sys.stderr)
shutil.rmtree(raw)


def best(runs, job, key, pipeline=None):
    return min(j[key] for run in runs for j in run["jobs"] if j["job"] == job and (pipeline is None or j["pipeline"] == pipeline))


def acc(runs, job, pipeline=None):
    return [j["test_accuracy"] for j in runs[-1]["jobs"] if j["job"] == job and (pipeline is None or j["pipeline"] == pipeline)][0]


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
print(f"machine: {cpu}, {os.cpu_count()} cores; torch {torch_runs[0]['torch']} ({torch_runs[0]['threads']} threads); kindling {threads} thread(s)")
print()
print("| job | PyTorch, lecture's DataLoader | PyTorch, preloaded tensor | kindling | vs DataLoader | vs preloaded |")
print("| --- | --- | --- | --- | --- | --- |")
for job in ["threeblue", "mlp"]:
    pl, pt, k = best(torch_runs, job, "epoch_s_min", "loader"), best(torch_runs, job, "epoch_s_min", "tensor"), best(kindling_runs, job, "epoch_s_min")
    print(f"| `{job}` epoch | {pl:.3f} s | {pt:.3f} s | {k:.3f} s | {pl / k:.1f}x | {pt / k:.1f}x |")
for job in ["threeblue", "mlp"]:
    pt, k = best(torch_runs, job, "infer10k_s_min", "tensor"), best(kindling_runs, job, "infer10k_s_min")
    print(f"| `{job}` inference, 10k images | | {pt * 1e3:.2f} ms | {k * 1e3:.2f} ms | | {pt / k:.1f}x |")
for rows in (1, 64):
    for job in ["threeblue", "mlp"]:
        key = f"infer{rows}_s_median"
        pt, k = best(torch_runs, job, key, "tensor"), best(kindling_runs, job, key)
        print(f"| `{job}` inference, {rows} image{'s' if rows > 1 else ''} (median) | | {pt * 1e6:.1f} µs | {k * 1e6:.1f} µs | | {pt / k:.1f}x |")
pr, kr = max(r["peak_rss_mib"] for r in torch_runs), max(r["peak_rss_mib"] for r in kindling_runs)
print(f"| peak RSS (whole process) | {pr:.0f} MiB | | {kr:.0f} MiB | {pr / kr:.1f}x less | |")
for job in ["threeblue", "mlp"]:
    print(f"| `{job}` test accuracy after 1 epoch | {acc(torch_runs, job, 'loader') * 100:.2f}% | {acc(torch_runs, job, 'tensor') * 100:.2f}% | {acc(kindling_runs, job) * 100:.2f}% | | |")
