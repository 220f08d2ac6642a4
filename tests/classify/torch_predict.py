#!/usr/bin/python3
"""PyTorch's predictions with the weights of a Tide run of models/cnn.toml.

    torch_predict.py RUN_DIR PREDICTIONS.csv FASHION_MNIST_DIR

Builds the PyTorch module that models/cnn.toml describes (its parameter names are the
file's), loads RUN_DIR/model.safetensors into it, classifies the first 2000 test images
normalised as Tide does, and compares with the rows of `tide predict`'s CSV: the
probabilities within 1e-4 and the same class (unless the top two are within 1e-4). oneDNN
is off, so PyTorch's convolutions are its own. Exits 1 on a difference.
"""
import csv
import gzip
import json
import struct
import sys

import numpy as np
import torch

torch.backends.mkldnn.enabled = False
run_dir, predictions, data = sys.argv[1], sys.argv[2], sys.argv[3]


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


model = torch.nn.Sequential(
    torch.nn.Conv2d(1, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(32, 64, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Flatten(), torch.nn.Linear(3136, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10))
model.load_state_dict(load_safetensors(f"{run_dir}/model.safetensors"))
model.eval()

n = 2000
with gzip.open(f"{data}/t10k-images-idx3-ubyte.gz") as f:
    pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16)[:n * 784]
x = torch.from_numpy(((pixels.astype(np.float32) / 255 - 0.2860) / 0.3530).reshape(n, 1, 28, 28))
with torch.no_grad():
    p = torch.softmax(model(x), 1).numpy()

rows = list(csv.reader(open(predictions)))[1:n + 1]
tide = np.array([[float(v) for v in row[3:]] for row in rows])
worst = np.abs(tide - p).max()
top2 = np.sort(p, 1)[:, -2:]
differ = [i for i in range(n) if int(rows[i][2]) != int(p[i].argmax())
          and top2[i, 1] - top2[i, 0] > 1e-4]
print(f"{n} inputs: largest difference of a probability {worst:.2e}; "
      f"{len(differ)} classes differ")
if worst > 1e-4 or differ:
    sys.exit(f"Tide and PyTorch disagree (rows {differ[:10]})")
print("Tide and PyTorch agree")
