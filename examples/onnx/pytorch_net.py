#!/usr/bin/python3
"""From PyTorch to Tide and back: the Python side of README's worked example.

    pytorch_net.py export NET.onnx
        Builds the network below and writes it as ONNX for `tide train --model-file`.
    pytorch_net.py check RUN_DIR PREDICTIONS.csv FASHION_MNIST_DIR
        Loads the weights Tide trained (RUN_DIR/model.safetensors: the initializers of the
        ONNX graph, which are this module's parameter and buffer names) back into the same
        PyTorch module, classifies the first 2000 Fashion-MNIST test images normalised as
        the run's model.json says, and compares with `tide predict`'s CSV: every
        probability within 1e-4. Exits 1 on a difference.

Needs Debian's python3-torch (1.13) and python3-numpy only.
"""
import csv
import gzip
import json
import struct
import sys

import numpy as np
import torch
from torch import nn


class Net(nn.Module):
    """A small CNN for 28x28 images: two convolution blocks with batch norm, then a head."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 128),
                                  nn.GELU(), nn.Linear(128, classes))

    def forward(self, x):
        return self.head(self.features(x))


def export(path):
    torch.manual_seed(0)
    net = Net()
    # TRAINING keeps batch norm and dropout as nodes (an inference export folds batch norm
    # into the convolutions and drops dropout); without constant folding every initializer
    # keeps its PyTorch name.
    torch.onnx.export(net, torch.zeros(1, 1, 28, 28), path, opset_version=17,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    print(f"wrote {path}")


def load_safetensors(path):
    raw = open(path, "rb").read()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
        array = np.frombuffer(raw[8 + size + begin:8 + size + end], dtype=dtype)
        out[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return out


def check(run_dir, predictions, data):
    torch.backends.mkldnn.enabled = False  # PyTorch's own convolutions, not Tide's oneDNN
    net = Net()
    missing, unexpected = net.load_state_dict(load_safetensors(f"{run_dir}/model.safetensors"),
                                              strict=False)
    # Only batch norm's step counters, which ONNX has no place for, are not in the run.
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    assert not unexpected, unexpected
    net.eval()
    spec = json.load(open(f"{run_dir}/model.json"))
    mean, std = spec["inputs"]["mean"][0], spec["inputs"]["stddev"][0]
    n = 2000
    with gzip.open(f"{data}/t10k-images-idx3-ubyte.gz") as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16)[:n * 784]
    x = torch.from_numpy(((pixels.astype(np.float32) / 255 - mean) / std).reshape(n, 1, 28, 28))
    with torch.no_grad():
        p = torch.softmax(net(x), 1).numpy()
    rows = list(csv.reader(open(predictions)))[1:n + 1]
    tide = np.array([[float(v) for v in row[3:]] for row in rows])
    worst = np.abs(tide - p).max()
    print(f"{n} images: largest difference of a probability {worst:.2e}")
    if worst > 1e-4:
        sys.exit("Tide and PyTorch disagree")
    print("PyTorch, given the weights Tide trained, agrees with tide predict")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "export":
        export(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "check":
        check(*sys.argv[2:])
    else:
        sys.exit(__doc__)
