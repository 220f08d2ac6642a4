#!/usr/bin/python3
"""The PyTorch reference of Tide's time-series pipeline, on the same data.

Reads long-format CSV (series_id,t,value,label; `tide timeseries generate` writes it),
normalises each series (mean 0, standard deviation 1), cuts windows (--window, --stride;
0: the whole series), trains the same LSTM autoencoder as `tide timeseries train` (encoder
LSTM, code from its last state or its states pooled over time, decoder LSTM fed the code at
every step, linear output; Adam on the mean squared error, gradients clipped to norm
--clip-norm), describes each series by the mean (and with --pool mean-std the standard
deviation) of its windows' codes as `tide timeseries cluster` does, clusters them with
k-means++ and Lloyd (scikit-learn) and prints the adjusted Rand index and NMI against the
labels, for both codes.

    /usr/bin/python3 bench/timeseries_reference.py --csv series.csv --window 8 --stride 2

The held-out fraction (--validation, the last series) is left out of training, as in Tide,
and clustered with the rest.
"""
import argparse
import csv
import time

import numpy as np
import torch
import torch.nn as nn


class LstmAutoencoder(nn.Module):
    """Tide's LstmAutoencoder (src/tide/models/autoencoder.hpp), parameter for parameter."""

    def __init__(self, hidden, latent, layers=1, code="pooled"):
        super().__init__()
        self.code = code
        self.encoder = nn.LSTM(1, hidden, layers, batch_first=True)
        self.to_code = nn.Linear(hidden, latent)
        self.decoder = nn.LSTM(latent, hidden, layers, batch_first=True)
        self.output = nn.Linear(hidden, 1)

    def encode(self, x):
        out, (h, _) = self.encoder(x)
        return self.to_code(out.mean(1) if self.code == "pooled" else h[-1])

    def forward(self, x):
        z = self.encode(x)
        out, _ = self.decoder(z.unsqueeze(1).expand(-1, x.shape[1], -1))
        return self.output(out)


def read_series(path):
    values, labels, order = {}, {}, []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            sid = int(row["series_id"])
            if sid not in values:
                values[sid] = []
                labels[sid] = int(row.get("label") or -1)
                order.append(sid)
            values[sid].append(float(row["value"]))
    x = np.array([values[s] for s in order], dtype=np.float32)
    x = (x - x.mean(1, keepdims=True)) / np.maximum(x.std(1, keepdims=True), 1e-12)
    return torch.from_numpy(x).unsqueeze(2), np.array([labels[s] for s in order])


def windows(x, length, stride):
    """(N, L, 1) series -> (N, W, length, 1) windows every `stride` points."""
    return x.unfold(1, length, stride).permute(0, 1, 3, 2)


def series_vectors(model, w, pool):
    """Each series' windows' codes pooled: mean, or mean and standard deviation."""
    n, count = w.shape[0], w.shape[1]
    with torch.no_grad():
        codes = model.encode(w.reshape(n * count, w.shape[2], 1)).reshape(n, count, -1)
    v = codes.mean(1)
    if pool == "mean-std":
        v = torch.cat([v, codes.std(1, unbiased=False)], dim=1)
    return v.numpy().astype(np.float64)


def run(x, labels, code, args):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    torch.manual_seed(args.seed)
    model = LstmAutoencoder(args.hidden, args.latent, args.layers, code)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    length = args.window or x.shape[1]
    w = windows(x, length, args.stride or length)
    n_train = len(x) - int(np.floor(args.validation * len(x)))
    train = w[:n_train].reshape(-1, length, 1)
    started = time.perf_counter()
    steps = len(train) // args.batch_size
    for epoch in range(args.epochs):
        order = torch.randperm(len(train))
        total = 0.0
        for b in range(steps):
            batch = train[order[b * args.batch_size:(b + 1) * args.batch_size]]
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(batch), batch)
            loss.backward()
            if args.clip_norm > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_norm)
            optimizer.step()
            total += loss.item()
        if (epoch + 1) % max(1, args.epochs // 10) == 0:
            print(f"  {code}: epoch {epoch + 1}: train loss {total / steps:.5f}")
    seconds = time.perf_counter() - started
    codes = series_vectors(model, w, args.pool)
    clusters = KMeans(n_clusters=args.k, n_init=1, random_state=args.seed).fit_predict(codes)
    return (adjusted_rand_score(labels, clusters), normalized_mutual_info_score(labels, clusters),
            total / steps, seconds)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--csv", required=True)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--clip-norm", type=float, default=1.0)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--stride", type=int, default=2)
    p.add_argument("--pool", choices=["mean", "mean-std"], default="mean-std")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--latent", type=int, default=16)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--validation", type=float, default=0.1)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--code", choices=["pooled", "last", "both"], default="both")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    x, labels = read_series(args.csv)
    print(f"{len(x)} series of {x.shape[1]} points")
    codes = ["last", "pooled"] if args.code == "both" else [args.code]
    for code in codes:
        ari, nmi, loss, seconds = run(x, labels, code, args)
        print(f"pytorch {code}: train loss {loss:.5f}, adjusted Rand index {ari:.4f}, "
              f"NMI {nmi:.4f}, {seconds:.1f} s")


if __name__ == "__main__":
    main()
