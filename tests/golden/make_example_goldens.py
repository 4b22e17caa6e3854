"""Runs PyTorch's originals of the ported examples and writes their output.

    python tests/golden/make_example_goldens.py DATA_ROOT

Needs torch, torchvision and safetensors, and cargo (to write kindling's
initial weights). For each port in examples/, runs the tutorial's Python on
the same data (DATA_ROOT, torchvision's layout) from the same initial weights
(written by `cargo run --release --example write_parity_weights -- quickstart
PATH`, so PyTorch starts where kindling does), and writes what it prints to
tests/golden/examples/NAME.txt. tests/examples.rs runs each example and
compares: the text identical, numbers within 1e-4.
"""
import contextlib
import io
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EPOCHS = 1  # what tests/examples.rs runs


def torchvision_root(data_root, name):
    """A root where torchvision finds `name`: its raw files decompressed (kindling
    reads the .gz files; torchvision without download wants them unpacked)."""
    import gzip
    import shutil
    root = tempfile.mkdtemp()
    raw = os.path.join(root, name, "raw")
    os.makedirs(raw)
    src = os.path.join(data_root, name, "raw")
    for f in os.listdir(src):
        if f.endswith(".gz"):
            with gzip.open(os.path.join(src, f)) as i, open(os.path.join(raw, f[:-3]), "wb") as o:
                shutil.copyfileobj(i, o)
    return root


def kindling_weights(kind):
    path = os.path.join(tempfile.mkdtemp(), f"{kind}.safetensors")
    subprocess.run(["cargo", "run", "--release", "-q", "--example", "write_parity_weights", "--", kind, path],
                   cwd=REPO, check=True)
    return load_file(path)


def quickstart(data_root):
    # beginner_source/basics/quickstart_tutorial.py, up to training, statement for statement.
    from torch import nn
    from torch.utils.data import DataLoader
    from torchvision import datasets
    from torchvision.transforms import ToTensor

    data_root = torchvision_root(data_root, "FashionMNIST")
    training_data = datasets.FashionMNIST(root=data_root, train=True, download=False, transform=ToTensor())
    test_data = datasets.FashionMNIST(root=data_root, train=False, download=False, transform=ToTensor())

    batch_size = 64
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)

    for X, y in test_dataloader:
        print(f"Shape of X [N, C, H, W]: {X.shape}")
        print(f"Shape of y: {y.shape} {y.dtype}")
        break

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    print(f"Using {device} device")

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28*28, 512),
                nn.ReLU(),
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Linear(512, 10)
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device)
    # Not in the tutorial: start from kindling's initial weights.
    init = kindling_weights("quickstart")
    model.load_state_dict({f"linear_relu_stack.{k}": v for k, v in init.items()}, strict=True)
    print(model)

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if batch % 100 == 0:
                loss, current = loss.item(), (batch + 1) * len(X)
                print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")

    epochs = EPOCHS
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train(train_dataloader, model, loss_fn, optimizer)
        test(test_dataloader, model, loss_fn)
    print("Done!")

    model_path = os.path.join(tempfile.mkdtemp(), "model.pth")  # the tutorial's "model.pth"
    torch.save(model.state_dict(), model_path)
    print("Saved PyTorch Model State to model.pth")

    model = NeuralNetwork().to(device)
    model.load_state_dict(torch.load(model_path, weights_only=True))

    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]

    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
        print(f'Predicted: "{predicted}", Actual: "{actual}"')


def tensorqs(data_root):
    # beginner_source/basics/tensorqs_tutorial.py, statement for statement, up to
    # its NumPy bridge (not ported: kindling's NumPy is the ndarray feature).
    # Its tensors are random: compared apart from the values.
    torch.manual_seed(0)  # Not in the tutorial: a stable golden file.
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    x_ones = torch.ones_like(x_data)
    print(f"Ones Tensor: \n {x_ones} \n")
    x_rand = torch.rand_like(x_data, dtype=torch.float)
    print(f"Random Tensor: \n {x_rand} \n")
    shape = (2, 3,)
    rand_tensor = torch.rand(shape)
    ones_tensor = torch.ones(shape)
    zeros_tensor = torch.zeros(shape)
    print(f"Random Tensor: \n {rand_tensor} \n")
    print(f"Ones Tensor: \n {ones_tensor} \n")
    print(f"Zeros Tensor: \n {zeros_tensor}")
    tensor = torch.rand(3, 4)
    print(f"Shape of tensor: {tensor.shape}")
    print(f"Datatype of tensor: {tensor.dtype}")
    print(f"Device tensor is stored on: {tensor.device}")
    if torch.accelerator.is_available():
        tensor = tensor.to(torch.accelerator.current_accelerator())
    tensor = torch.ones(4, 4)
    print(f"First row: {tensor[0]}")
    print(f"First column: {tensor[:, 0]}")
    print(f"Last column: {tensor[..., -1]}")
    tensor[:, 1] = 0
    print(tensor)
    t1 = torch.cat([tensor, tensor, tensor], dim=1)
    print(t1)
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = torch.rand_like(y1)
    torch.matmul(tensor, tensor.T, out=y3)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    z3 = torch.rand_like(tensor)
    torch.mul(tensor, tensor, out=z3)
    agg = tensor.sum()
    agg_item = agg.item()
    print(agg_item, type(agg_item))
    print(f"{tensor} \n")
    tensor.add_(5)
    print(tensor)


def optimization(data_root):
    # beginner_source/basics/optimization_tutorial.py, statement for statement,
    # from kindling's initial weights (the quickstart's network), EPOCHS epochs.
    from torch import nn
    from torch.utils.data import DataLoader
    from torchvision import datasets
    from torchvision.transforms import ToTensor

    data_root = torchvision_root(data_root, "FashionMNIST")
    training_data = datasets.FashionMNIST(root=data_root, train=True, download=False, transform=ToTensor())
    test_data = datasets.FashionMNIST(root=data_root, train=False, download=False, transform=ToTensor())
    train_dataloader = DataLoader(training_data, batch_size=64)
    test_dataloader = DataLoader(test_data, batch_size=64)

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28*28, 512),
                nn.ReLU(),
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Linear(512, 10),
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork()
    # Not in the tutorial: start from kindling's initial weights.
    init = kindling_weights("quickstart")
    model.load_state_dict({f"linear_relu_stack.{k}": v for k, v in init.items()}, strict=True)

    learning_rate = 1e-3
    batch_size = 64

    def train_loop(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if batch % 100 == 0:
                loss, current = loss.item(), batch * batch_size + len(X)
                print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")

    def test_loop(dataloader, model, loss_fn):
        model.eval()
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")

    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

    epochs = EPOCHS
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train_loop(train_dataloader, model, loss_fn, optimizer)
        test_loop(test_dataloader, model, loss_fn)
    print("Done!")


def transforms(data_root):
    # beginner_source/basics/transforms_tutorial.py, statement for statement,
    # then (not in the tutorial, which prints nothing) the targets it makes.
    from torchvision import datasets
    from torchvision.transforms import ToTensor, Lambda

    data_root = torchvision_root(data_root, "FashionMNIST")
    ds = datasets.FashionMNIST(
        root=data_root,
        train=True,
        download=False,
        transform=ToTensor(),
        target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
    )
    target_transform = Lambda(lambda y: torch.zeros(
        10, dtype=torch.float).scatter_(dim=0, index=torch.tensor(y), value=1))
    print(ds[0][1])
    print(target_transform(3))


def buildmodel(data_root):
    # beginner_source/basics/buildmodel_tutorial.py, statement for statement. Its
    # tensors are random, so tests/examples.rs compares the text around the
    # numbers and how many there are, not their values.
    from torch import nn
    torch.manual_seed(0)  # Not in the tutorial: a stable golden file.

    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    print(f"Using {device} device")

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28*28, 512),
                nn.ReLU(),
                nn.Linear(512, 512),
                nn.ReLU(),
                nn.Linear(512, 10),
            )

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    model = NeuralNetwork().to(device)
    print(model)

    X = torch.rand(1, 28, 28, device=device)
    logits = model(X)
    pred_probab = nn.Softmax(dim=1)(logits)
    y_pred = pred_probab.argmax(1)
    print(f"Predicted class: {y_pred}")

    input_image = torch.rand(3, 28, 28)
    print(input_image.size())

    flatten = nn.Flatten()
    flat_image = flatten(input_image)
    print(flat_image.size())

    layer1 = nn.Linear(in_features=28*28, out_features=20)
    hidden1 = layer1(flat_image)
    print(hidden1.size())

    print(f"Before ReLU: {hidden1}\n\n")
    hidden1 = nn.ReLU()(hidden1)
    print(f"After ReLU: {hidden1}")

    seq_modules = nn.Sequential(
        flatten,
        layer1,
        nn.ReLU(),
        nn.Linear(20, 10)
    )
    input_image = torch.rand(3, 28, 28)
    logits = seq_modules(input_image)

    softmax = nn.Softmax(dim=1)
    pred_probab = softmax(logits)

    print(f"Model structure: {model}\n\n")

    for name, param in model.named_parameters():
        print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")


def autogradqs(data_root):
    # beginner_source/basics/autogradqs_tutorial.py, statement for statement
    # (random w and b: compared apart from their values).
    torch.manual_seed(0)  # Not in the tutorial: a stable golden file.
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w)+b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")

    loss.backward()
    print(w.grad)
    print(b.grad)

    z = torch.matmul(x, w)+b
    print(z.requires_grad)

    with torch.no_grad():
        z = torch.matmul(x, w)+b
    print(z.requires_grad)

    z = torch.matmul(x, w)+b
    z_det = z.detach()
    print(z_det.requires_grad)

    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp+1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"First call\n{inp.grad}")
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nCall after zeroing gradients\n{inp.grad}")


if __name__ == "__main__":
    data_root = sys.argv[1]
    os.makedirs(os.path.join(HERE, "examples"), exist_ok=True)
    only = sys.argv[2:]  # names to write (default: all)
    for name, run in [("quickstart", quickstart), ("tensorqs", tensorqs), ("optimization", optimization),
                      ("transforms", transforms),
                      ("buildmodel", buildmodel), ("autogradqs", autogradqs)]:
        if only and name not in only:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            run(data_root)
        with open(os.path.join(HERE, "examples", f"{name}.txt"), "w") as f:
            f.write(out.getvalue())
        print(f"wrote examples/{name}.txt with torch {torch.__version__}")
