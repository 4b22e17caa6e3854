"""Prints, per ported example, its Rust lines against the Python it ports.

    python3 tools/line_counts.py [--max RATIO] [examples/NAME.rs ...]

A ported example carries the tutorial's code as `// ` comments above its
Rust, laid out as the tutorial writes it (a statement the tutorial spreads
over six lines is six comment lines; its imports included; its own `#`
comments and prose left out). So the Python count is the tutorial's code
lines (non-blank, non-comment) for the statements ported, and the Rust count
the lines that are neither blank nor comments (attributes and closing braces
included, as rustfmt writes them). The target for the tutorials is at most
1.15x; with `--max 1.15` the script exits with status 1 when a port is over
it (`tests/examples.rs` runs it so).
"""
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def counts(path):
    python = rust = 0
    text = open(path, encoding="utf-8").read()
    if "statement by statement" not in " ".join(text.replace("//!", " ").split()):
        return 0, 0  # not a port
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("//!"):
            continue
        if s.startswith("// #"):
            continue  # a comment of the tutorial's, not code
        if s.startswith("// "):
            python += 1
        elif not s.startswith("//"):
            rust += 1
    return python, rust


def main(args):
    limit = None
    if args[:1] == ["--max"]:
        limit, args = float(args[1]), args[2:]
    paths = args or sorted(glob.glob(os.path.join(HERE, "..", "examples", "*.rs")))
    total_py = total_rs = 0
    over = []
    print(f"{'example':<28}{'python':>8}{'rust':>8}{'ratio':>8}")
    for p in paths:
        py, rs = counts(p)
        if py == 0:
            continue  # not a port
        total_py, total_rs = total_py + py, total_rs + rs
        print(f"{os.path.basename(p):<28}{py:>8}{rs:>8}{rs / py:>8.2f}")
        if limit is not None and rs > limit * py:
            over.append(os.path.basename(p))
    if total_py:
        print(f"{'all ports':<28}{total_py:>8}{total_rs:>8}{total_rs / total_py:>8.2f}")
    if over:
        print(f"over {limit}x: {', '.join(over)}")
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
