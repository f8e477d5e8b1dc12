#!/usr/bin/env python3
"""Exports two CNNs of your own as TorchScript files for hpo to train.

hpo's LibTorch trainer trains any TorchScript module that takes the shards'
batches, [N, 1, mels, frames] (or [N, D] for vector shards), and returns
logits [N, classes]: with hpo's optimizers, LR schedulers, SpecAugment,
checkpoints and promotions (README, "Your own model"). This script reads the
shape and the classes from the shards' manifest and writes

    OUT/small_cnn.pt   conv 16 -> 32, global average pooling, dropout 0.2
    OUT/wide_cnn.pt    conv 32 -> 64 -> 64, the same head

Usage (the demo's shards; study.json names the files relative to --data):
    python3 export.py --shards ../../demo/data/shards/demo --out ../../demo/data/nets
"""

import argparse
import json
import os

import torch
from torch import nn


class Cnn(nn.Module):
    def __init__(self, channels, classes, dropout=0.2):
        super().__init__()
        layers, c_in = [], 1
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c),
                       nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(c_in, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).mean(dim=(2, 3))
        return self.out(self.dropout(x))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shards", required=True, help="hpo-prep shard directory")
    p.add_argument("--out", required=True, help="directory for the .pt files")
    args = p.parse_args()
    with open(os.path.join(args.shards, "manifest.json")) as f:
        manifest = json.load(f)
    shape, classes = manifest["sample_shape"], len(manifest["classes"])
    if len(shape) != 3:
        p.error(f"{args.shards} holds vectors {shape}; these CNNs take mel "
                "shards [1, mels, frames]")
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name, channels in (("small_cnn", (16, 32)), ("wide_cnn", (32, 64, 64))):
        net = torch.jit.script(Cnn(channels, classes))
        logits = net(torch.zeros([2] + shape))
        assert logits.shape == (2, classes), logits.shape
        path = os.path.join(args.out, name + ".pt")
        net.save(path)
        params = sum(t.numel() for t in net.parameters())
        print(f"{path}: input [N, {', '.join(map(str, shape))}] -> logits "
              f"[N, {classes}], {params} parameters")


if __name__ == "__main__":
    main()
