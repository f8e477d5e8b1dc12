#!/usr/bin/env python3
"""A PyTorch training script of your own, tuned by hpo (the command trainer).

It trains a small CNN on the log-mel shards hpo-prep writes, read with numpy
(memory-mapped), and speaks hpo's line protocol through hpo_trial.py:

  - hyperparameters arrive as arguments (the study's command substitutes
    {lr}, {batch_size}, {optimizer}) and, all of them, in HPO_PARAMS;
  - it trains epochs HPO_FROM_EPOCH + 1 .. HPO_TO_EPOCH, resuming from
    HPO_CHECKPOINT (model, optimizer and random state) when hpo promotes the
    trial, and prints one `hpo-metrics` line per epoch;
  - after its last epoch it saves a checkpoint in HPO_CHECKPOINT_DIR and
    prints `hpo-checkpoint`.

Run by hand, outside hpo, it trains a new model for --epochs epochs:
    python3 train.py --shards ../../demo/data/shards/demo --epochs 3
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
# hpo_trial.py: from this checkout, or from an installed hpo.
for candidate in (os.path.join(HERE, "..", "..", "python"),
                  os.path.join(sys.prefix, "share", "hpo", "python"),
                  "/usr/local/share/hpo/python"):
    if os.path.exists(os.path.join(candidate, "hpo_trial.py")):
        sys.path.insert(0, candidate)
        break
import hpo_trial  # noqa: E402


def load_split(shards, manifest, split):
    """Features [N, 1, mels, frames] (float32), labels [N], tracks [N]."""
    features, labels, tracks = [], [], []
    for shard in manifest["splits"][split]["shards"]:
        features.append(np.load(os.path.join(shards, shard["features"]),
                                mmap_mode="r"))
        labels.append(np.load(os.path.join(shards, shard["labels"])))
        tracks.append(np.load(os.path.join(shards, shard["tracks"])))
    norm = manifest["normalization"]
    x = (np.concatenate(features).astype(np.float32) - norm["mean"]) / max(
        norm["std"], 1e-6)
    return (torch.from_numpy(x), torch.from_numpy(
        np.concatenate(labels).astype(np.int64)), np.concatenate(tracks))


class SmallCnn(torch.nn.Module):
    def __init__(self, classes, channels=(16, 32), dropout=0.2):
        super().__init__()
        layers, c_in = [], 1
        for c in channels:
            layers += [torch.nn.Conv2d(c_in, c, 3, padding=1),
                       torch.nn.BatchNorm2d(c), torch.nn.ReLU(),
                       torch.nn.MaxPool2d(2)]
            c_in = c
        self.features = torch.nn.Sequential(*layers)
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(c_in, classes)

    def forward(self, x):
        x = self.features(x).mean(dim=(2, 3))  # Global average pooling.
        return self.out(self.dropout(x))


def evaluate(model, x, y, tracks, batch_size):
    """Segment loss and accuracy; track accuracy (summed log-probs) and
    track loss (cross entropy of the softmax of a track's mean log-probs)."""
    model.eval()
    losses, logps = [], []
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            logits = model(x[i:i + batch_size])
            losses.append(F.cross_entropy(logits, y[i:i + batch_size],
                                          reduction="sum").item())
            logps.append(F.log_softmax(logits, dim=1))
    logp = torch.cat(logps)
    accuracy = (logp.argmax(1) == y).float().mean().item()
    right, track_loss, ids = 0, 0.0, np.unique(tracks)
    for t in ids:
        rows = torch.from_numpy(np.nonzero(tracks == t)[0])
        mean = logp[rows].mean(0)
        right += int(mean.argmax() == y[rows[0]])
        track_loss -= F.log_softmax(mean, dim=0)[y[rows[0]]].item()
    return (sum(losses) / len(y), accuracy, right / len(ids),
            track_loss / len(ids))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--shards", default=os.environ.get("HPO_SHARDS"),
                   help="hpo-prep shard directory (default: HPO_SHARDS)")
    p.add_argument("--epochs", type=int, default=None,
                   help="by hand: train this many epochs (default: "
                   "HPO_TO_EPOCH)")
    args = p.parse_args()
    if not args.shards:
        p.error("give --shards DIR (under hpo, the study's data.shards)")
    try:
        with open(os.path.join(args.shards, "manifest.json")) as f:
            manifest = json.load(f)
        train = load_split(args.shards, manifest, "training")
        val = load_split(args.shards, manifest, "validation")
    except (OSError, KeyError, ValueError) as e:
        hpo_trial.fail_data(f"cannot read the shards in {args.shards}: {e}")

    torch.set_num_threads(int(os.environ.get("HPO_THREADS", "1")))
    torch.manual_seed(1000 + hpo_trial.trial())
    device = torch.device(os.environ.get("HPO_DEVICE", "cpu")
                          if torch.cuda.is_available() else "cpu")
    model = SmallCnn(len(manifest["classes"])).to(device)
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr,
                                    momentum=0.9)
    shuffle = torch.Generator().manual_seed(hpo_trial.trial())

    start = hpo_trial.from_epoch()
    resume = hpo_trial.resume_checkpoint()
    if resume:
        state = torch.load(resume, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        shuffle.set_state(state["shuffle"])
        torch.set_rng_state(state["rng"])
        if state["epoch"] != start:
            hpo_trial.fail_config(f"{resume} holds epoch {state['epoch']}, "
                                  f"not {start}")
    end = args.epochs if args.epochs is not None else hpo_trial.to_epoch()
    print(f"training epochs {start + 1}..{end} with lr {args.lr}, batch "
          f"{args.batch_size}, {args.optimizer}"
          + (f", resumed from {resume}" if resume else ""), flush=True)

    x, y, _ = train
    for epoch in range(start + 1, end + 1):
        began = time.monotonic()
        model.train()
        order = torch.randperm(len(y), generator=shuffle)
        total, count = 0.0, 0
        for i in range(0, len(y), args.batch_size):
            rows = order[i:i + args.batch_size]
            loss = F.cross_entropy(model(x[rows].to(device)),
                                   y[rows].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
            count += len(rows)
        seconds = time.monotonic() - began
        val_loss, val_acc, val_track, val_track_loss = evaluate(
            model, val[0].to(device), val[1].to(device), val[2], 256)
        hpo_trial.report(epoch, train_loss=total / count, val_loss=val_loss,
                         val_accuracy=val_acc, val_track_accuracy=val_track,
                         val_track_loss=val_track_loss,
                         epoch_seconds=seconds,
                         samples_per_second=count / seconds,
                         resumed_from=start)

    path = os.path.join(hpo_trial.checkpoint_dir(), f"epoch-{end}.pt")
    torch.save({"model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "shuffle": shuffle.get_state(), "rng": torch.get_rng_state(),
                "epoch": end}, path)
    hpo_trial.checkpoint(end, path)


if __name__ == "__main__":
    main()
