#!/usr/bin/python3
"""Writes the PyTorch side of test_onnx_import: Tide's shipped networks built in PyTorch,
exported as ONNX, with PyTorch's outputs, gradients and losses.

Usage:  /usr/bin/python3 tests/onnx/torch_models.py OUTPUT_DIR   (Debian's PyTorch 1.13)

The networks are those of models/mlp.toml, cnn.toml, inception.toml (the inception-style
model file), lstm.toml, gru.toml, transformer.toml and examples/models/resnet.toml (the
residual one), with their sizes, and deep_recurrent (two bidirectional LSTM layers, a
bidirectional GRU and a ReLU RNN, beyond the shipped files); 10 classes and Fashion-MNIST's
(N, 1, 28, 28) input; a
convolution with padding "same" has the explicit padding k // 2 (torch.onnx cannot export
"same"). For each NAME, OUTPUT_DIR holds:

  NAME.onnx          torch.onnx.export in training mode, without constant folding, so the
                     initializers are the parameters and buffers under their state-dict names
                     (checked here); input "input", output "output", a symbolic batch.
  NAME.safetensors   input (8, 1, 28, 28) and labels (8); output, PyTorch's logits in train
                     mode (batch norm normalises by the batch's statistics); loss, the mean
                     cross-entropy; grad.P, the gradient of the loss for every parameter P;
                     stats.B, each batch-norm running statistic B after that forward;
                     eval_output, the logits of input in eval mode after that forward (batch
                     norm by those running statistics); train_input (3, 8, 1, 28, 28),
                     train_labels (3, 8) and train_losses (3), the losses of 3 SGD steps (lr
                     0.05, momentum 0.9) from the exported weights; and trained_stats.B, the
                     running statistics after them.

The opsets spread over 13 to 17; the transformer is written at opset 13 (layer norm as
ReduceMean, Sub, Pow, Sqrt, Div) as transformer_opset13 and at 17 (LayerNormalization) as
transformer_opset17. transformer.toml's dropout (0.1) is 0 here so that train mode is
deterministic and compares with Tide's; every other network has no dropout. The weights start
from torch.manual_seed and are read back from the exported file, so PyTorch trains exactly the
values Tide imports (the export's trace runs batch norm once in train mode). The compared
batch is the first (of seeds 2, 3, ...) whose ReLU inputs all lie further than RELU_MARGIN from
0, where the last bits of the forward pass would decide whether an element's gradient counts.
"""
import os
import sys
import time
import warnings

import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from generate import save_safetensors  # noqa: E402

torch.backends.mkldnn.enabled = False
torch.set_num_threads(1)
# The exporter warns that it drops num_batches_tracked's update and that a recurrent layer's
# initial state is fixed to zeros: both are what is meant here.
warnings.filterwarnings("ignore", category=UserWarning, module="torch.onnx")

CLASSES = 10
BATCH = 8
STEPS = 3
# The distance from 0 of every ReLU input of the compared batch, relative to the largest
# magnitude of that input: Tide's ReLU inputs differ from PyTorch's by up to 1.4e-6 of it
# (measured on these networks), so an element nearer 0 may pass its gradient on one side only.
RELU_MARGIN = 5e-6


def conv_bn_relu(cin, cout, kernel):
    """inception.toml's block conv_bn_relu: a convolution without bias, batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


class Inception(nn.Module):
    """inception.toml's block inception: 1x1, 3x3, 5x5 and pooled 1x1 branches, concatenated."""

    def __init__(self, cin, c1, c3, c5, pool):
        super().__init__()
        self.b1 = conv_bn_relu(cin, c1, 1)
        self.b3 = conv_bn_relu(cin, c3, 3)
        self.b5 = conv_bn_relu(cin, c5, 5)
        self.pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv_bn_relu(cin, pool, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], dim=1)


class Residual(nn.Module):
    """resnet.toml's block residual: relu(x + bn(conv(relu(bn(conv(x))))))."""

    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(x + self.body(x))


def rows(x):
    """(N, C, H, W) -> (N, H, C * W): the permute and flatten of the sequence models."""
    return x.permute(0, 2, 1, 3).flatten(2)


class Recurrent(nn.Module):
    """lstm.toml and gru.toml: the rows read by a 128-unit layer, its last state, a linear head."""

    def __init__(self, kind):
        super().__init__()
        self.rnn = kind(28, 128, batch_first=True)
        self.head = nn.Linear(128, CLASSES)

    def forward(self, x):
        _, state = self.rnn(rows(x))
        h = state[0] if isinstance(state, tuple) else state  # (1, N, 128)
        return self.head(h[-1])


class DeepRecurrent(nn.Module):
    """No shipped file: what an ONNX graph may hold beyond them. Two bidirectional LSTM layers,
    a bidirectional GRU and a ReLU RNN, each reading the whole sequence of the one before."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 16, num_layers=2, bidirectional=True, batch_first=True)
        self.gru = nn.GRU(32, 12, bidirectional=True, batch_first=True)
        self.rnn = nn.RNN(24, 8, nonlinearity="relu", batch_first=True)
        self.head = nn.Linear(8, CLASSES)

    def forward(self, x):
        out, _ = self.lstm(rows(x))
        out, _ = self.gru(out)
        _, h = self.rnn(out)
        return self.head(h[-1])


class Transformer(nn.Module):
    """transformer.toml: a linear embedding, learned positions, two post-norm encoder layers,
    the mean over tokens, a linear head."""

    def __init__(self, dropout):
        super().__init__()
        self.embed = nn.Linear(28, 64)
        self.positions = nn.Parameter(0.02 * torch.randn(28, 64))
        # activation=nn.ReLU(), the default F.relu as a module, so that relu_margin sees it.
        self.layer0 = nn.TransformerEncoderLayer(64, 4, 128, dropout, nn.ReLU(), batch_first=True)
        self.layer1 = nn.TransformerEncoderLayer(64, 4, 128, dropout, nn.ReLU(), batch_first=True)
        self.head = nn.Linear(64, CLASSES)

    def forward(self, x):
        h = self.embed(rows(x)) + self.positions
        return self.head(self.layer1(self.layer0(h)).mean(dim=1))


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
                         nn.ReLU(), nn.Linear(1024, CLASSES))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 1024), nn.ReLU(),
                         nn.Linear(1024, CLASSES))


def inception():
    return nn.Sequential(conv_bn_relu(1, 32, 3), nn.MaxPool2d(2), Inception(32, 16, 24, 8, 8),
                         nn.MaxPool2d(2), Inception(56, 32, 48, 16, 16), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(112, CLASSES))


class ResNet(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.stem = conv_bn_relu(1, width, 3)
        self.blocks = nn.Sequential(Residual(width), nn.MaxPool2d(2), Residual(width),
                                    nn.MaxPool2d(2), Residual(width), nn.AdaptiveAvgPool2d(1),
                                    nn.Flatten())
        self.head = nn.Linear(width, CLASSES)

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


# name, constructor, opset
NETWORKS = [
    ("mlp", mlp, 13),
    ("cnn", cnn, 14),
    ("inception", inception, 15),
    ("lstm", lambda: Recurrent(nn.LSTM), 16),
    ("gru", lambda: Recurrent(nn.GRU), 14),
    ("resnet", ResNet, 17),
    ("deep_recurrent", DeepRecurrent, 15),
    ("transformer_opset13", lambda: Transformer(0.0), 13),
    ("transformer_opset17", lambda: Transformer(0.0), 17),
]


def stats(model):
    """The batch-norm running statistics (float buffers) by state-dict name."""
    return {k: v.clone() for k, v in model.named_buffers() if v.is_floating_point()}


def relu_margin(model, x):
    """The smallest |input| of any ReLU on batch x relative to the largest of that input; the
    model's state is left as it was."""
    margins = []
    hooks = [m.register_forward_pre_hook(
        lambda _, inp: margins.append((inp[0].abs().min() / inp[0].abs().max()).item()))
        for m in model.modules() if isinstance(m, nn.ReLU)]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model(x)
    model.load_state_dict(state)
    for h in hooks:
        h.remove()
    return min(margins, default=float("inf"))


def export(model, x, path, opset):
    torch.onnx.export(model, x, path, opset_version=opset,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    # The initializers are the parameters and float buffers, under their state-dict names;
    # PyTorch then starts from the file's values, the ones Tide imports.
    graph = onnx.load(path).graph
    init = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy())
            for t in graph.initializer}
    names = [k for k, v in model.state_dict().items() if v.is_floating_point()]
    floats = sorted(k for k, v in init.items() if v.is_floating_point() and v.dim() > 0)
    if floats != sorted(names):
        sys.exit(f"{path}: the initializers {floats} are not the state dict's {sorted(names)}")
    model.load_state_dict({k: init[k] for k in names}, strict=False)


def write(name, make, opset, out_dir):
    torch.manual_seed(0)
    model = make()
    model.train()
    gen = torch.Generator().manual_seed(1)
    train_x = torch.rand(STEPS, BATCH, 1, 28, 28, generator=gen)
    train_labels = torch.randint(0, CLASSES, (STEPS, BATCH), generator=gen)
    export(model, train_x[0], os.path.join(out_dir, name + ".onnx"), opset)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    # A ReLU input within rounding of 0 takes its gradient or not by the last bits of the
    # forward pass, which oneDNN and PyTorch compute in other orders: the compared batch is
    # one whose ReLU inputs all keep RELU_MARGIN (the inception network's first batch had one
    # 8e-8 from 0, and its gradient, 3e-4, was in one side's sum and not the other's). Some
    # 250 draws at most, a forward each.
    for draw in range(2, 1000):
        gen = torch.Generator().manual_seed(draw)
        x = torch.rand(BATCH, 1, 28, 28, generator=gen)
        labels = torch.randint(0, CLASSES, (BATCH,), generator=gen)
        margin = relu_margin(model, x)
        if margin > RELU_MARGIN:
            break
    else:
        sys.exit(f"{name}: no batch keeps its ReLU inputs {RELU_MARGIN} from 0")

    out = model(x)
    loss = F.cross_entropy(out, labels)
    loss.backward()
    fx = {"input": x, "labels": labels, "output": out, "loss": loss.reshape(1)}
    fx.update({"grad." + k: p.grad.clone() for k, p in model.named_parameters()})
    fx.update({"stats." + k: v for k, v in stats(model).items()})
    model.eval()
    with torch.no_grad():
        fx["eval_output"] = model(x)
    model.train()

    model.load_state_dict(initial)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for s in range(STEPS):
        opt.zero_grad()
        step_loss = F.cross_entropy(model(train_x[s]), train_labels[s])
        step_loss.backward()
        opt.step()
        losses.append(step_loss.item())
    fx.update({"train_input": train_x, "train_labels": train_labels,
               "train_losses": torch.tensor(losses, dtype=torch.float64)})
    fx.update({"trained_stats." + k: v for k, v in stats(model).items()})
    save_safetensors(os.path.join(out_dir, name + ".safetensors"), fx)
    return draw, margin


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    for name, make, opset in NETWORKS:
        start = time.time()
        draw, margin = write(name, make, opset, out_dir)
        print(f"{name}: opset {opset}, batch {draw} (ReLU margin {margin:.1e}), "
              f"{time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
