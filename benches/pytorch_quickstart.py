"""PyTorch's quickstart tutorial, its training part, as the tutorial writes it:
FashionMNIST through torchvision with ToTensor and a DataLoader of batch 64,
784-512-512-10 ReLU, SGD lr 1e-3, EPOCHS epochs (5). Timed against
`examples/quickstart.rs` in BENCHMARKS.md.

    python benches/pytorch_quickstart.py DATA_ROOT [EPOCHS]

DATA_ROOT holds FashionMNIST/raw/*.gz; they are decompressed into a temporary
folder for torchvision.
"""
import gzip
import os
import shutil
import sys
import tempfile
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import ToTensor

data = os.path.abspath(sys.argv[1])
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
root = tempfile.mkdtemp()
os.makedirs(os.path.join(root, "FashionMNIST", "raw"))
for f in os.listdir(os.path.join(data, "FashionMNIST", "raw")):
    with gzip.open(os.path.join(data, "FashionMNIST", "raw", f)) as a, open(os.path.join(root, "FashionMNIST", "raw", f[:-3]), "wb") as b:
        shutil.copyfileobj(a, b)

start = time.perf_counter()
training_data = datasets.FashionMNIST(root=root, train=True, download=False, transform=ToTensor())
test_data = datasets.FashionMNIST(root=root, train=False, download=False, transform=ToTensor())
train_dataloader = DataLoader(training_data, batch_size=64)
test_dataloader = DataLoader(test_data, batch_size=64)
device = "cpu"


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

    def forward(self, x):
        x = self.flatten(x)
        return self.linear_relu_stack(x)


model = NeuralNetwork().to(device)
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


for t in range(epochs):
    print(f"Epoch {t+1}\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    test(test_dataloader, model, loss_fn)
print("Done!")
print(f"seconds: {time.perf_counter() - start:.2f}  (torch {torch.__version__}, {torch.get_num_threads()} threads)", file=sys.stderr)
shutil.rmtree(root)
