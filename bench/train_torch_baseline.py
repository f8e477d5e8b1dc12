#!/usr/bin/python3
"""PyTorch baseline for bench/train_bench: the same training in plain PyTorch.

What it measures
    For --model on the shards of --shards (hpo-prep's output), the same work
    as build/bench/train_bench, with Debian's python3-torch (1.13, the same
    libtorch_cpu as hpo's) and numpy:

      (1) data path alone: one epoch's batches (a shuffled order) gathered
          and normalised, without training (a second pass, timed, after an
          untimed one that touches the mapped pages);
      (2) constant tensor: the model, optimizer and batch size trained on one
          constant random batch, --warmup-steps untimed steps, then as many
          timed steps as an epoch has batches (zero_grad, forward,
          cross_entropy, loss.item(), backward, step);
      (3) end to end: --epochs full epochs, each a training loop over the
          shuffled training split followed by a validation pass (eval mode,
          no_grad, batches of max(batch, 256); segment accuracy and track
          accuracy from summed log-probabilities), as hpo's trainer does.
          "train_sps" is the training loop alone, from the epoch's start
          (shuffle included) to its last step, which is what the trainer's
          samples_per_second covers; "epoch_sps" includes validation.

    The model is bench/hpo_torch_models.py's copy of hpo's (same layers,
    same parameter count, printed); the optimizer is torch.optim's class of
    the same name with hpo's defaults (Adam: foreach=False, the 1.13
    default, which steps one parameter at a time as LibTorch's C++ Adam
    does). Same settings as the trainer's defaults: no SpecAugment, no label
    smoothing, no gradient clipping, no LR scheduler, dropout 0; the last
    batch is dropped when it would hold one sample (batch norm), as hpo does.

    Data: every shard's features .npy is opened with np.load(mmap_mode='r')
    (labels, small, are read whole); samples are normalised with the
    manifest's training-split mean and std, (x - mean) / std, as hpo does.
    Batching (--loader):
      gather      (default) index gathers: each epoch a torch.randperm order;
                  per batch, feats[idx] (numpy fancy indexing on the map, a
                  float16 copy), torch.from_numpy(...).float(), then the
                  normalisation in place. What a user writes for arrays
                  that numpy maps.
      dataloader  torch.utils.data.DataLoader(num_workers=0) over a Dataset
                  whose __getitem__ returns one normalised sample, visiting
                  the same torch.randperm order (as shuffle=True would);
                  default_collate stacks them. The textbook loop;
                  per-sample Python calls make it slower for small samples.

    Threads: torch.set_num_threads(--threads) (intra-op), as hpo's
    --threads.

Reproduce
    /usr/bin/python3 bench/train_torch_baseline.py --model cnn --shards DIR
        [--batch-size 32] [--threads 1] [--epochs 1] [--warmup-steps 2]
        [--optimizer adam] [--lr 0.001] [--trainer '{"channels": [32, 64]}']
        [--loader gather|dataloader] [--seed 1]

Prints a readable report, then lines "result KEY VALUE" with the same keys
as train_bench (samples/s by wall clock, and per CPU-second of the whole
process).
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hpo_torch_models  # noqa: E402

# hpo's trainer keys that shape the model (common/train_config.h).
MODEL_KEYS = ("channels", "kernel_size", "padding", "pool", "batch_norm",
              "dropout", "dense", "gru_hidden", "gru_layers", "bidirectional",
              "activation", "init")
OPTIMIZER_KEYS = ("weight_decay", "momentum", "nesterov", "beta1", "beta2",
                  "eps", "alpha", "rho")


class MappedSplit:
    """One split of a shard directory: features memory-mapped per shard,
    labels and track ids in memory, batches normalised as hpo's."""

    def __init__(self, shards, manifest, split):
        entry = manifest["splits"][split]
        norm = manifest["normalization"]
        self.mean = float(norm["mean"])
        self.std = float(norm["std"]) if norm["std"] > 0 else 1.0
        self.features = []
        labels, tracks, ends = [], [], []
        for shard in entry["shards"]:
            f = np.load(os.path.join(shards, shard["features"]),
                        mmap_mode="r")
            self.features.append(f)
            labels.append(np.load(os.path.join(shards, shard["labels"])))
            tracks.append(np.load(os.path.join(shards, shard["tracks"])))
            ends.append((ends[-1] if ends else 0) + len(f))
        self.labels = torch.from_numpy(
            np.concatenate(labels).astype(np.int64))
        self.tracks = np.concatenate(tracks)
        self.ends = np.array(ends, dtype=np.int64)
        self.begins = self.ends - np.array([len(f) for f in self.features])

    def __len__(self):
        return int(self.ends[-1]) if len(self.ends) else 0

    def _rows(self, idx):
        """Features of samples idx (int64 numpy array), as stored."""
        if len(self.features) == 1:
            return self.features[0][idx]
        shard = np.searchsorted(self.ends, idx, side="right")
        out = np.empty((len(idx),) + self.features[0].shape[1:],
                       dtype=self.features[0].dtype)
        for k in np.unique(shard):
            mask = shard == k
            out[mask] = self.features[k][idx[mask] - self.begins[k]]
        return out

    def batch(self, idx):
        """Samples idx as float32 [B, ...], normalised, and labels [B]."""
        x = torch.from_numpy(self._rows(idx)).float()
        x.sub_(self.mean).div_(self.std)
        return x, self.labels[idx]

    # torch.utils.data.Dataset protocol, for --loader dataloader.
    def __getitem__(self, i):
        k = int(np.searchsorted(self.ends, i, side="right"))
        x = torch.from_numpy(
            np.array(self.features[k][i - self.begins[k]], dtype=np.float32))
        return (x - self.mean) / self.std, self.labels[i]


def batches_per_epoch(n, batch):
    """As hpo's trainer: a last batch of one sample is dropped."""
    b = (n + batch - 1) // batch
    if n > 1 and n % batch == 1:
        b -= 1
    return b


def epoch_batches(data, order, batch, count, loader):
    """The batches of one epoch in `order` (a torch permutation)."""
    if loader == "dataloader":
        it = iter(loader_for(data, batch, order))
        for _ in range(count):
            yield next(it)
        return
    idx = order.numpy()
    for k in range(count):
        yield data.batch(idx[k * batch:(k + 1) * batch])


def loader_for(data, batch, order):
    """A DataLoader over `data` that visits `order` (what shuffle=True with
    a seeded generator gives, made explicit so both loaders see the same
    order)."""
    return torch.utils.data.DataLoader(data, batch_size=batch,
                                       sampler=order.tolist(), num_workers=0)


def evaluate(model, data, batch):
    """hpo's validation pass: loss, segment accuracy, track accuracy."""
    model.eval()
    n = len(data)
    step = max(batch, 256)
    loss_sum, correct = 0.0, 0
    track_ids, inverse = np.unique(data.tracks, return_inverse=True)
    classes = None
    track_logp = None
    with torch.no_grad():
        for start in range(0, n, step):
            idx = np.arange(start, min(n, start + step))
            x, y = data.batch(idx)
            logits = model(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum())
            logp = torch.log_softmax(logits, 1)
            if track_logp is None:
                classes = logits.size(1)
                track_logp = torch.zeros(len(track_ids), classes)
            track_logp.index_add_(0, torch.from_numpy(inverse[idx]), logp)
    track_labels = torch.zeros(len(track_ids), dtype=torch.int64)
    track_labels[torch.from_numpy(inverse)] = data.labels
    track_correct = int((track_logp.argmax(1) == track_labels).sum())
    model.train()
    return (loss_sum / max(1, n), correct / max(1, n),
            track_correct / max(1, len(track_ids)))


def minor_faults():
    """Minor page faults of the process so far (see train_bench.cc)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def result(key, value):
    print("result %s %.6g" % (key, value))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True,
                   choices=hpo_torch_models.MODELS)
    p.add_argument("--shards", required=True)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--warmup-steps", type=int, default=2)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--trainer", default="{}",
                   help="more trainer settings as JSON, as train_bench")
    p.add_argument("--loader", choices=("gather", "dataloader"),
                   default="gather")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.batch_size < 2 or a.threads < 1 or a.epochs < 1:
        p.error("--batch-size >= 2, --threads >= 1 and --epochs >= 1")
    settings = json.loads(a.trainer)
    unknown = set(settings) - set(MODEL_KEYS) - set(OPTIMIZER_KEYS)
    if unknown:
        p.error("--trainer: keys this baseline does not implement: %s"
                % ", ".join(sorted(unknown)))

    torch.set_num_threads(a.threads)
    with open(os.path.join(a.shards, "manifest.json")) as f:
        manifest = json.load(f)
    train = MappedSplit(a.shards, manifest, "training")
    val = MappedSplit(a.shards, manifest, "validation")
    shape = [int(s) for s in manifest["sample_shape"]]
    classes = len(manifest["classes"])
    n, b = len(train), a.batch_size
    batches = batches_per_epoch(n, b)
    epoch_samples = min(n, batches * b)
    print("train_torch_baseline: %s on %s: %d training samples (%d batches "
          "of %d), %d validation, input %s, %d classes, %d thread(s), "
          "loader %s, torch %s" %
          (a.model, a.shards, n, batches, b, len(val),
           "x".join(map(str, shape)), classes, a.threads, a.loader,
           torch.__version__))
    print("reproduce: /usr/bin/python3 " + " ".join(
        "'%s'" % s if any(c in s for c in " {}\"") else s for s in sys.argv))

    # (1) The data path alone: two passes, the second timed (the first
    # touches the mapped pages).
    g = torch.Generator().manual_seed(a.seed)
    order = torch.randperm(n, generator=g)
    for _ in epoch_batches(train, order, b, batches, a.loader):
        pass
    t0 = time.perf_counter()
    for _ in epoch_batches(train, order, b, batches, a.loader):
        pass
    data_s = time.perf_counter() - t0
    print("data path alone: %d batches gathered and normalised in %.4f s "
          "(%.3f ms per batch)" % (batches, data_s, 1e3 * data_s / batches))

    model_settings = {k: settings[k] for k in MODEL_KEYS if k in settings}
    optimizer_settings = {k: settings[k] for k in OPTIMIZER_KEYS
                          if k in settings}

    # (2) The same model, optimizer and batch size on a constant batch.
    torch.manual_seed(a.seed)
    model = hpo_torch_models.build_model(a.model, shape, classes,
                                         **model_settings)
    params = hpo_torch_models.count_parameters(model)
    opt = hpo_torch_models.build_optimizer(a.optimizer, model.parameters(),
                                           lr=a.lr, **optimizer_settings)
    x = torch.randn([b] + shape)
    y = torch.arange(b) % classes
    model.train()

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.item()
        loss.backward()
        opt.step()

    for _ in range(a.warmup_steps):
        step()
    t0, c0, f0 = time.perf_counter(), time.process_time(), minor_faults()
    for _ in range(batches):
        step()
    const_s = time.perf_counter() - t0
    const_cpu = time.process_time() - c0
    const_faults = minor_faults() - f0
    const_samples = batches * b
    print("constant tensor: %d steps of %d after %d warm-up steps: %.3f s "
          "(CPU %.3f s, %.0f page faults per step): %.2f samples/s" %
          (batches, b, a.warmup_steps, const_s, const_cpu,
           const_faults / batches, const_samples / const_s))
    del model, opt

    # (3) Full epochs: train, then validate.
    torch.manual_seed(a.seed)
    model = hpo_torch_models.build_model(a.model, shape, classes,
                                         **model_settings)
    opt = hpo_torch_models.build_optimizer(a.optimizer, model.parameters(),
                                           lr=a.lr, **optimizer_settings)
    train_s = epoch_s = epoch_cpu = epoch_faults = 0.0
    for epoch in range(1, a.epochs + 1):
        t0, c0, f0 = time.perf_counter(), time.process_time(), minor_faults()
        model.train()
        g = torch.Generator().manual_seed(a.seed * 1000003 + epoch)
        order = torch.randperm(n, generator=g)
        loss_sum, seen = 0.0, 0
        for x, y in epoch_batches(train, order, b, batches, a.loader):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            value = loss.item()
            if not np.isfinite(value):
                sys.exit("train_torch_baseline: the loss became %s" % value)
            loss.backward()
            opt.step()
            loss_sum += value * len(y)
            seen += len(y)
        loop = time.perf_counter() - t0
        loop_cpu = time.process_time() - c0
        val_loss, val_acc, val_track = evaluate(model, val, b)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        faults = minor_faults() - f0
        print("epoch %d: training loop %.3f s (%.2f samples/s, CPU %.3f s), "
              "with validation %.3f s, CPU %.3f s, %.0f page faults per "
              "batch; train_loss %.4f, val_accuracy %.3f, val_track_accuracy "
              "%.3f" %
              (epoch, loop, seen / loop, loop_cpu, wall, cpu,
               faults / batches, loss_sum / seen, val_acc, val_track))
        train_s += loop
        epoch_s += wall
        epoch_cpu += cpu
        epoch_faults += faults

    samples = epoch_samples * a.epochs
    train_sps = samples / train_s
    const_sps = const_samples / const_s
    print("PyTorch end to end %.2f samples/s, constant tensor %.2f samples/s:"
          " data-path efficiency %.3f" %
          (train_sps, const_sps, train_sps / const_sps))
    result("params", params)
    result("train_samples", epoch_samples)
    result("batches", batches)
    result("data_ms_per_batch", 1e3 * data_s / batches)
    result("train_sps", train_sps)
    result("epoch_sps", samples / epoch_s)
    result("epoch_cpu_sps", samples / epoch_cpu)
    result("const_sps", const_sps)
    result("const_cpu_sps", const_samples / const_cpu)
    result("efficiency", train_sps / const_sps)
    result("const_faults_per_step", const_faults / batches)
    result("epoch_faults_per_batch", epoch_faults / (batches * a.epochs))
    print("result input %s" % "x".join(map(str, shape)))


if __name__ == "__main__":
    main()
