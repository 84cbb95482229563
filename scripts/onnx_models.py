#!/usr/bin/python3
"""Train three small MNIST models with PyTorch and export them to ONNX.

These are krelu's "models trained elsewhere": the Go tests import them
through package onnx and must reproduce PyTorch's logits (golden outputs)
to 1e-4 without Python. Run (about 5–10 minutes on 2 cores):

    nice -n 10 /usr/bin/python3 scripts/onnx_models.py \
        "$(go env GOMODCACHE)/github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63/data" models

It also exports an untrained one-layer transformer encoder (encoder.onnx,
input "ids" int64 [1,8]; golden/encoder_ids.npy, golden/encoder_logits.npy)
to check what PyTorch emits for attention. Optional MODEL arguments (mlp,
lenet5, rescnn, encoder) train or export only those models (e.g. to run them in
parallel processes). Writes to the output directory: mlp.onnx, lenet5.onnx, rescnn.onnx (input
"input" float32 [1,1,28,28] = pixel/255, output "logits" [1,10]), and
golden/images.npy (first 16 test images, float32 [16,1,28,28]),
golden/labels.npy (int64 [16]), golden/<model>_logits.npy (float32
[16,10]). Prints each model's accuracy on the 10,000 MNIST test images.
Needs python3-torch (1.13) and python3-onnx (Debian). Debian's torch calls
the reference BLAS for linear layers, which is ~15x slower than OpenBLAS; if
libopenblas0-pthread is installed (or unpacked), run with
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread OPENBLAS_NUM_THREADS=1.
The BLAS changes float rounding only; the goldens are whatever this run's
PyTorch produced, and the Go test compares against those.
"""
import gzip
import os
import struct
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20261202
EPOCHS = {"mlp": 3, "lenet5": 3, "rescnn": 3}
BATCH = 128
GOLDEN = 16


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load(mnist_dir, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(mnist_dir, prefix + "-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
    y = read_idx(os.path.join(mnist_dir, prefix + "-labels-idx1-ubyte.gz")).astype(np.int64)
    return torch.from_numpy(x.reshape(-1, 1, 28, 28).copy()), torch.from_numpy(y.copy())


class MLP(nn.Module):
    """784-128-64-10 with ReLU."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) with BatchNorm, ReLU and average pooling."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.avg_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class ResBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(x + y)


class ResCNN(nn.Module):
    """A small residual CNN (He et al. 2016, "Deep Residual Learning"):
    stem, two residual blocks at 14x14, a strided convolution, one block
    at 7x7, global average pooling and a linear classifier."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.block1 = ResBlock(8)
        self.block2 = ResBlock(8)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.bn_down = nn.BatchNorm2d(16)
        self.block3 = ResBlock(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.avg_pool2d(F.relu(self.bn(self.stem(x))), 2)
        x = self.block2(self.block1(x))
        x = F.relu(self.bn_down(self.down(x)))
        x = self.block3(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class Encoder(nn.Module):
    """A one-layer transformer encoder classifier over token ids (untrained,
    seeded weights): embedding (Gather), learned positions, PyTorch's
    TransformerEncoderLayer with GELU (exported as Erf) and LayerNorm
    (exported decomposed at opset 13: ReduceMean, Sub, Pow, Sqrt, Div), mean
    pooling and a linear head. It checks the importer on what PyTorch emits
    for attention blocks; it is not an MNIST model."""

    VOCAB, SEQ, DIM = 50, 8, 16

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(self.VOCAB, self.DIM)
        self.pos = nn.Parameter(torch.randn(1, self.SEQ, self.DIM) * 0.1)
        self.layer = nn.TransformerEncoderLayer(self.DIM, 2, 32, dropout=0.0, activation="gelu", batch_first=True)
        self.fc = nn.Linear(self.DIM, 2)

    def forward(self, ids):
        h = self.layer(self.emb(ids) + self.pos)
        return self.fc(h.mean(1))


def export_encoder(out):
    torch.manual_seed(SEED)
    model = Encoder().eval()
    ids = torch.randint(0, Encoder.VOCAB, (4, Encoder.SEQ), generator=torch.Generator().manual_seed(SEED))
    path = os.path.join(out, "encoder.onnx")
    # Gradients stay enabled during export: under no_grad PyTorch 1.13 takes
    # its fused fast path (_transformer_encoder_layer_fwd), which has no
    # ONNX export.
    torch.onnx.export(model, ids[:1], path, input_names=["ids"], output_names=["logits"], opset_version=13)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    with torch.no_grad():
        logits = torch.cat([model(ids[i:i + 1]) for i in range(len(ids))]).numpy().astype(np.float32)
    np.save(os.path.join(out, "golden", "encoder_ids.npy"), ids.numpy())
    np.save(os.path.join(out, "golden", "encoder_logits.npy"), logits)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"encoder: untrained transformer encoder layer exported; {len(m.graph.node)} ONNX nodes, ops {' '.join(ops)}", flush=True)


def train(model, x, y, epochs):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(SEED)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}: train loss {total / len(x):.4f}", flush=True)


def accuracy(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def export(model, path):
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into
    # the convolutions), so the importer and the compiler see them.
    torch.onnx.export(model, dummy, path, input_names=["input"], output_names=["logits"],
                      opset_version=13, training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=True)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    return sorted({n.op_type for n in m.graph.node})


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: onnx_models.py MNIST_DIR OUT_DIR [MODEL...]  (models: mlp lenet5 rescnn encoder; default all)")
    mnist_dir, out = sys.argv[1], sys.argv[2]
    models = [("mlp", MLP), ("lenet5", LeNet5), ("rescnn", ResCNN)]
    only = sys.argv[3:]
    for name in only:
        if name not in dict(models) and name != "encoder":
            sys.exit(f"unknown model {name!r}; choose from mlp, lenet5, rescnn, encoder")
    if only:
        models = [(n, c) for n, c in models if n in only]
    # One thread: on a shared, loaded machine OpenMP barriers waste most of a
    # second thread's time.
    torch.set_num_threads(1)
    os.makedirs(os.path.join(out, "golden"), exist_ok=True)
    if not only or "encoder" in only:
        export_encoder(out)
    if not models:
        return
    torch.manual_seed(SEED)
    xtr, ytr = load(mnist_dir, "train")
    xte, yte = load(mnist_dir, "test")
    np.save(os.path.join(out, "golden", "images.npy"), xte[:GOLDEN].numpy())
    np.save(os.path.join(out, "golden", "labels.npy"), yte[:GOLDEN].numpy())
    for name, cls in models:
        torch.manual_seed(SEED)
        model = cls()
        print(f"{name}: training {EPOCHS[name]} epochs", flush=True)
        train(model, xtr, ytr, EPOCHS[name])
        acc = accuracy(model, xte, yte)
        ops = export(model, os.path.join(out, name + ".onnx"))
        with torch.no_grad():
            logits = model(xte[:GOLDEN]).numpy().astype(np.float32)
        np.save(os.path.join(out, "golden", name + "_logits.npy"), logits)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: PyTorch test accuracy {100 * acc:.2f}% on {len(xte)} MNIST test images; "
              f"{params} parameters; ONNX ops {' '.join(ops)}", flush=True)


if __name__ == "__main__":
    main()
