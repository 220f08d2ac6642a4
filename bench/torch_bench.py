#!/usr/bin/python3
"""The PyTorch side of bench/run: times one training step (forward, backward, SGD with
momentum 0.9, lr 0.01) of a reference workload from BENCH.md and prints one JSON line:
  {"workload": "mlp-64", "median_ms": 3.4, "steps": 30, "threads": 1, "precision": "f32", ...}
With --precision bf16 the forward pass and the loss run under CPU autocast to bfloat16;
backward and the optimizer step stay outside it, and the weights stay float32.
With --ranks N > 1 it starts N processes on this machine that train the workload with
DistributedDataParallel over gloo (loopback), each with the workload's batch and --threads,
and reports rank 0's median step: weak scaling against --ranks 1.
Run with /usr/bin/python3 (Debian's python3-torch); bench/run unsets OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE for this process."""
import argparse
import json
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024),
                         nn.ReLU(), nn.Linear(1024, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Linear(1024, 10))


class LstmAutoencoder(nn.Module):
    """LSTM encoder (8->64); its last hidden state repeated over time feeds an LSTM
    decoder (64->64) and a linear 64->8 that reconstructs the input."""

    def __init__(self, features=8, hidden=64):
        super().__init__()
        self.encoder = nn.LSTM(features, hidden, batch_first=True)
        self.decoder = nn.LSTM(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, features)

    def forward(self, x):  # x: [batch, time, features]
        _, (h, _) = self.encoder(x)
        y, _ = self.decoder(h[-1].unsqueeze(1).expand(-1, x.shape[1], -1))
        return self.out(y)


class TinyTransformer(nn.Module):
    """Token embedding plus learned positions, post-norm encoder layers without dropout,
    and a linear head over the vocabulary; logits are [batch * tokens, vocab]."""

    def __init__(self, vocab=256, tokens=64, d_model=128, heads=4, ffn=512, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.randn(1, tokens, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=ffn, dropout=0.0,
                                           batch_first=True, norm_first=False)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):  # tokens: [batch, tokens]
        y = self.encoder(self.embed(tokens) + self.pos[:, :tokens.shape[1]])
        return self.head(y).flatten(0, 1)


def images(batch):
    return lambda: (torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,)))


def sequences():
    x = torch.randn(32, 64, 8)
    return x, x  # an autoencoder reconstructs its input


def token_batch():
    return torch.randint(0, 256, (32, 64)), torch.randint(0, 256, (32 * 64,))


@dataclass
class Workload:
    model: Callable[[], nn.Module]
    data: Callable[[], tuple]  # -> (inputs, targets)
    loss: Callable[[], nn.Module]


# Workloads by name (BENCH.md); one row each.
WORKLOADS = {
    "mlp-64": Workload(mlp, images(64), nn.CrossEntropyLoss),
    "mlp-256": Workload(mlp, images(256), nn.CrossEntropyLoss),
    "mlp-1024": Workload(mlp, images(1024), nn.CrossEntropyLoss),
    "cnn-64": Workload(cnn, images(64), nn.CrossEntropyLoss),
    "lstm-ae": Workload(LstmAutoencoder, sequences, nn.MSELoss),
    "transformer": Workload(TinyTransformer, token_batch, nn.CrossEntropyLoss),
}


def median_step_ms(w: Workload, warmup: int, steps: int, ddp: bool = False,
                   precision: str = "f32") -> float:
    torch.manual_seed(0)
    model = w.model()
    model.train()
    if ddp:
        model = torch.nn.parallel.DistributedDataParallel(model)
    loss_fn = w.loss()
    x, y = w.data()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    # bf16: autocast covers forward and loss only, as PyTorch recommends; the parameters
    # (master weights) and their gradients stay float32.
    bf16 = precision == "bf16"
    times = []
    for _ in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[warmup:]) * 1e3


def blas_library() -> str:
    """The file of the libblas.so.3 this process loaded: Debian picks it through an
    alternative, and netlib's reference BLAS there is ~30x slower than OpenBLAS."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/libblas.so" in line}
    return ", ".join(sorted(paths)) or "unknown"


def ddp_worker(rank: int, ranks: int, port: int, a, results) -> None:
    import torch.distributed as dist
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=ranks)
    ms = median_step_ms(WORKLOADS[a.workload], a.warmup, a.steps, ddp=True,
                        precision=a.precision)
    if rank == 0:
        results.put(ms)
    dist.destroy_process_group()


def ddp_median_step_ms(a) -> float:
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:  # a free loopback port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    mp.spawn(ddp_worker, args=(a.ranks, port, a, results), nprocs=a.ranks, join=True)
    return results.get()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", required=True, choices=WORKLOADS)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ranks", type=int, default=1,
                   help="processes training with DistributedDataParallel (gloo)")
    p.add_argument("--precision", choices=("f32", "bf16"), default="f32",
                   help="bf16: forward and loss under CPU autocast to bfloat16")
    a = p.parse_args()
    if a.steps < 1 or a.warmup < 0 or a.threads < 1 or a.ranks < 1:
        p.error("need --steps >= 1, --warmup >= 0, --threads >= 1, --ranks >= 1")
    torch.set_num_threads(a.threads)
    if a.ranks > 1:
        ms = ddp_median_step_ms(a)
    else:
        ms = median_step_ms(WORKLOADS[a.workload], a.warmup, a.steps, precision=a.precision)
    print(json.dumps({"workload": a.workload, "median_ms": round(ms, 4), "steps": a.steps,
                      "threads": torch.get_num_threads(), "ranks": a.ranks,
                      "precision": a.precision, "blas": blas_library()}))


if __name__ == "__main__":
    main()
