#!/usr/bin/python3
"""The Optuna + PyTorch peer of an hpo study (issue 8, bench/peer/run.sh).

What a user would otherwise write: Debian's python3-optuna (3.1) and
python3-torch (1.13), N worker processes on one RDB storage (SQLite), each
running ``optuna.load_study(...).optimize(...)``; Optuna's HyperbandPruner
and RandomSampler (--sampler tpe: TPESampler with its defaults, as an Optuna
user keeps it; --pruner sh: SuccessiveHalvingPruner() with its defaults,
Optuna's asynchronous successive halving); per epoch
``trial.report(val_accuracy, epoch)`` and ``trial.should_prune()``.

Everything that defines the search comes from the hpo study file, so the two
sides cannot drift:
  * the model, optimizer, LR scheduler and the other fixed settings from
    "trainer", with hpo's defaults (common/train_config.h); the model and the
    optimizer are bench/hpo_torch_models.py's copies of hpo's;
  * the search space from "search_space" (uniform, loguniform, int, choice,
    with "when" conditions), one Optuna distribution per parameter;
  * HyperbandPruner(min_resource=min_epochs, max_resource=max_epochs,
    reduction_factor=eta) from "algorithm" (type hyperband; NopPruner for
    random), RandomSampler(seed=study seed) (hpo's Hyperband samples at
    random too), or with --sampler tpe TPESampler(seed=study seed);
  * the data: the shard directory data.shards under --data, read with
    np.load(mmap_mode="r") and normalised with the manifest's training
    mean and std, as hpo's trainer does (bench/train_torch_baseline.py's
    MappedSplit); per epoch a torch.randperm order; a last batch of one
    sample dropped; validation (segment and track accuracy) as hpo's.
  * the LR schedulers are torch.optim.lr_scheduler's, stepped where hpo steps
    its copies of them (worker/lr_scheduler.h): onecycle and cyclic after
    every batch (cycle_momentum off: hpo does not cycle momentum; onecycle's
    horizon is max_epochs x batches per epoch), plateau, step, exponential
    and cosine after every epoch (plateau on the objective, mode max).

The number of trials is --trials (run.sh passes the count hpo's Hyperband
plans, from `hpo-coordinator --plan`). Trials are handed out from a shared
counter, so exactly that many run, whichever process is free.

Each trial that completes (is not pruned) keeps its final weights
(OUT/weights/trial-N.pt); at the end the study's best trial (Optuna's
best_trial: the highest final value) is evaluated on the test split, as hpo
evaluates its best trial, and the other weights are deleted.

Written under --out:
  epochs.jsonl   one line per epoch: trial, epoch, pid, wall-clock start and
                 end (Unix seconds), training loop seconds, of which data
                 loading seconds (gather + float + normalise), validation
                 seconds, report() and should_prune() seconds, val_accuracy,
                 val_track_accuracy, train_loss, lr;
  trials.jsonl   one line per trial: number, pid, params, state, epochs,
                 objective start and end, set-up seconds (model, optimizer),
                 time since the previous trial of that process ended (what
                 Optuna spends in ask/tell and the storage between trials);
  procs.jsonl    one line per process: pid, spawn time, ready time (imports,
                 storage attach, data mapped), end time, CPU seconds;
  summary.json   start/end, best trial and its test accuracy, trial counts.

Usage:
  /usr/bin/python3 bench/peer/optuna_peer.py --study bench/peer/study.json \\
      --data DIR --db OUT/optuna.db --out OUT --workers 2 --trials 17
"""

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # bench/

# hpo's trainer keys this peer implements (common/train_config.h), with
# hpo's defaults. Any other key in the study's trainer or search space is an
# error: the peer would silently train something else.
MODEL_KEYS = ("channels", "kernel_size", "padding", "pool", "batch_norm",
              "dropout", "dense", "gru_hidden", "gru_layers", "bidirectional",
              "activation", "init")
OPTIMIZER_DEFAULTS = {"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
                      "momentum": 0.0, "nesterov": False, "beta1": 0.9,
                      "beta2": 0.999, "eps": -1, "alpha": 0.99, "rho": 0.9}
SCHEDULER_DEFAULTS = {
    "scheduler": "none", "step_size": 10, "gamma": 0.1, "exp_gamma": 0.95,
    "t_max": 0, "eta_min": 0.0, "max_lr": 0.0, "max_lr_factor": 1.0,
    "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4,
    "anneal": "cos", "three_phase": False, "plateau_factor": 0.1,
    "plateau_patience": 10, "plateau_threshold": 1e-4,
    "plateau_threshold_mode": "rel", "plateau_cooldown": 0, "min_lr": 0.0,
    "base_lr": 0.0, "cyclic_max_lr_factor": 4.0, "cyclic_mode": "triangular",
    "cyclic_gamma": 1.0, "step_size_up_epochs": 2.0,
    "step_size_up_batches": 0}
OTHER_DEFAULTS = {"model": None, "batch_size": 32, "label_smoothing": 0.0,
                  "grad_clip": 0.0, "amp": False, "augment": None}
KNOWN_KEYS = (set(MODEL_KEYS) | set(OPTIMIZER_DEFAULTS) |
              set(SCHEDULER_DEFAULTS) | set(OTHER_DEFAULTS))


def fail(msg):
    sys.exit("optuna_peer: " + msg)


def mix(a, b):
    """hpo's splitmix64 step (worker/torch_trainer.cc: Mix), for seeds."""
    m = (1 << 64) - 1
    z = (a + 0x9e3779b97f4a7c15 * (b + 1)) & m
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & m
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & m
    return z ^ (z >> 31)


# --------------------------------------------------------------- the study


def load_spec(path):
    with open(path) as f:
        spec = json.load(f)
    algo = spec.get("algorithm", {})
    if algo.get("type") not in ("hyperband", "random"):
        fail("%s: algorithm.type %r: this peer runs hyperband (Optuna's "
             "HyperbandPruner) or random (no pruner)" % (path, algo.get("type")))
    if spec.get("objective", {}).get("mode", "max") != "max" or \
            spec.get("objective", {}).get("metric") != "val_accuracy":
        fail("%s: the peer reports val_accuracy, mode max; the study's "
             "objective is %s" % (path, spec.get("objective")))
    trainer = spec.get("trainer", {})
    space = spec.get("search_space", {})
    for key in list(trainer) + list(space):
        if key not in KNOWN_KEYS:
            fail("%s: trainer or search_space key %r is not implemented by "
                 "the peer" % (path, key))
    if trainer.get("augment") or "augment" in space:
        fail("%s: SpecAugment is not implemented by the peer" % path)
    if trainer.get("amp") or "amp" in space:
        fail("%s: amp is not implemented by the peer (CPU only)" % path)
    for name, p in space.items():
        if p.get("type") not in ("uniform", "loguniform", "int", "choice"):
            fail("%s: search_space.%s: type %r not implemented" %
                 (path, name, p.get("type")))
    return spec


def space_order(space):
    """Parameter names, parents before the parameters conditional on them."""
    done, order = set(), []
    pending = list(space)
    while pending:
        progressed = False
        for name in list(pending):
            parents = set(space[name].get("when", {}))
            if parents <= done:
                order.append(name)
                done.add(name)
                pending.remove(name)
                progressed = True
        if not progressed:
            fail("search_space: conditions form a cycle among %s" % pending)
    return order


def condition_holds(when, params, space):
    """hpo's "when": every parent has the value named; a list means any of
    its values, unless the list is itself one of the parent's values."""
    for parent, want in when.items():
        if parent not in params:
            return False
        have = params[parent]
        values = space.get(parent, {}).get("values", [])
        if isinstance(want, list) and want not in values:
            if have not in want:
                return False
        elif have != want:
            return False
    return True


def suggest(trial, space):
    """The trial's parameters, as hpo's search space defines them."""
    params = {}
    for name in space_order(space):
        p = space[name]
        if not condition_holds(p.get("when", {}), params, space):
            continue
        t = p["type"]
        if t == "uniform":
            params[name] = trial.suggest_float(name, p["low"], p["high"])
        elif t == "loguniform":
            params[name] = trial.suggest_float(name, p["low"], p["high"],
                                               log=True)
        elif t == "int":
            if p.get("log"):
                params[name] = trial.suggest_int(name, p["low"], p["high"],
                                                 log=True)
            else:
                params[name] = trial.suggest_int(name, p["low"], p["high"],
                                                 step=p.get("step", 1))
        else:  # choice: Optuna's categoricals hold scalars; lists as JSON.
            values = p["values"]
            scalar = all(v is None or isinstance(v, (bool, int, float, str))
                         for v in values)
            if scalar:
                params[name] = trial.suggest_categorical(name, values)
            else:
                enc = trial.suggest_categorical(
                    name, [json.dumps(v) for v in values])
                params[name] = json.loads(enc)
    return params


# --------------------------------------------------------------- training


def build_scheduler(torch, opt, c, batches, max_epochs):
    """torch.optim.lr_scheduler's class for hpo's scheduler settings `c`,
    and when to step it ("batch", "epoch", "metric" or None)."""
    lrs = torch.optim.lr_scheduler
    name = c["scheduler"]
    lr = c["lr"]
    if name == "none":
        return None, None
    if name == "step":
        return lrs.StepLR(opt, c["step_size"], c["gamma"]), "epoch"
    if name == "exponential":
        return lrs.ExponentialLR(opt, c["exp_gamma"]), "epoch"
    if name == "cosine":
        return lrs.CosineAnnealingLR(opt, c["t_max"] or max_epochs,
                                     c["eta_min"]), "epoch"
    if name == "onecycle":
        max_lr = c["max_lr"] if c["max_lr"] != 0 else lr * c["max_lr_factor"]
        return lrs.OneCycleLR(
            opt, max_lr=max_lr, total_steps=max_epochs * batches,
            pct_start=c["pct_start"], anneal_strategy=c["anneal"],
            cycle_momentum=False, div_factor=c["div_factor"],
            final_div_factor=c["final_div_factor"],
            three_phase=c["three_phase"]), "batch"
    if name == "cyclic":
        base = c["base_lr"] if c["base_lr"] != 0 else lr
        top = c["max_lr"] if c["max_lr"] != 0 else base * c["cyclic_max_lr_factor"]
        up = c["step_size_up_batches"]
        if up == 0:  # Rounded half away from zero, as hpo's llround.
            up = int(math.floor(c["step_size_up_epochs"] * batches + 0.5))
        return lrs.CyclicLR(opt, base_lr=base, max_lr=top, step_size_up=up,
                            mode=c["cyclic_mode"], gamma=c["cyclic_gamma"],
                            cycle_momentum=False), "batch"
    if name == "plateau":
        return lrs.ReduceLROnPlateau(
            opt, mode="max", factor=c["plateau_factor"],
            patience=c["plateau_patience"],
            threshold=c["plateau_threshold"],
            threshold_mode=c["plateau_threshold_mode"],
            cooldown=c["plateau_cooldown"], min_lr=c["min_lr"],
            eps=1e-8), "metric"
    fail("trainer.scheduler %r not implemented" % name)


def settings(spec, params):
    c = dict(OPTIMIZER_DEFAULTS)
    c.update(SCHEDULER_DEFAULTS)
    c.update(OTHER_DEFAULTS)
    c.update(spec.get("trainer", {}))
    c.update(params)
    return c


class Worker:
    """One process's state: torch, the mapped data, the log files."""

    def __init__(self, a, spec):
        import numpy as np
        import torch
        import hpo_torch_models
        import train_torch_baseline as tb
        self.np, self.torch, self.models, self.tb = np, torch, hpo_torch_models, tb
        torch.set_num_threads(a.threads)
        self.a, self.spec = a, spec
        shards = os.path.join(a.data, spec["data"]["shards"])
        with open(os.path.join(shards, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.shards = shards
        self.train = tb.MappedSplit(shards, self.manifest, "training")
        self.val = tb.MappedSplit(shards, self.manifest, "validation")
        self.shape = [int(s) for s in self.manifest["sample_shape"]]
        self.classes = len(self.manifest["classes"])
        algo = spec["algorithm"]
        self.max_epochs = int(algo["max_epochs"])
        self.epochs_log = open(os.path.join(a.out, "epochs.jsonl"), "a",
                               buffering=1)
        self.trials_log = open(os.path.join(a.out, "trials.jsonl"), "a",
                               buffering=1)
        self.last_end = None

    def objective(self, trial):
        import optuna
        torch, F = self.torch, self.torch.nn.functional
        t_start = time.time()
        between = None if self.last_end is None else t_start - self.last_end
        params = suggest(trial, self.spec.get("search_space", {}))
        c = settings(self.spec, params)
        seed = mix(int(self.spec.get("seed", 0)), trial.number)
        torch.manual_seed(seed & 0x7fffffffffffffff)
        model = self.models.build_model(
            c["model"], self.shape, self.classes,
            **{k: c.get(k) for k in MODEL_KEYS})
        opt = self.models.build_optimizer(
            c["optimizer"], model.parameters(), lr=c["lr"],
            weight_decay=c["weight_decay"], momentum=c["momentum"],
            nesterov=c["nesterov"], beta1=c["beta1"], beta2=c["beta2"],
            eps=c["eps"], alpha=c["alpha"], rho=c["rho"])
        n, b = len(self.train), int(c["batch_size"])
        batches = self.tb.batches_per_epoch(n, b)
        sched, when = build_scheduler(torch, opt, c, batches, self.max_epochs)
        setup_s = time.time() - t_start
        state, value, epoch = "complete", None, 0
        try:
            for epoch in range(1, self.max_epochs + 1):
                e0 = time.time()
                model.train()
                g = torch.Generator().manual_seed(mix(seed, 1000003 * epoch) &
                                                  0x7fffffffffffffff)
                order = torch.randperm(n, generator=g).numpy()
                loss_sum, seen, data_s = 0.0, 0, 0.0
                for k in range(batches):
                    d0 = time.perf_counter()
                    x, y = self.train.batch(order[k * b:(k + 1) * b])
                    data_s += time.perf_counter() - d0
                    opt.zero_grad()
                    loss = F.cross_entropy(model(x), y,
                                           label_smoothing=c["label_smoothing"])
                    v = loss.item()
                    if not math.isfinite(v):
                        raise FloatingPointError(
                            "the training loss became %s in epoch %d" % (v, epoch))
                    loss.backward()
                    if c["grad_clip"] > 0:
                        torch.nn.utils.clip_grad_norm_(model.parameters(),
                                                       c["grad_clip"])
                    opt.step()
                    if when == "batch":
                        sched.step()
                    loss_sum += v * len(y)
                    seen += len(y)
                lr = opt.param_groups[0]["lr"]
                e1 = time.time()
                val_loss, val_acc, val_track = self.tb.evaluate(model, self.val, b)
                e2 = time.time()
                if when == "epoch":
                    sched.step()
                elif when == "metric":
                    sched.step(val_acc)
                value = val_acc
                r0 = time.time()
                trial.report(val_acc, epoch)
                r1 = time.time()
                prune = trial.should_prune()
                r2 = time.time()
                self.epochs_log.write(json.dumps({
                    "trial": trial.number, "epoch": epoch, "pid": os.getpid(),
                    "start": e0, "end": e2, "train_s": e1 - e0,
                    "data_s": data_s, "val_s": e2 - e1, "report_s": r1 - r0,
                    "prune_s": r2 - r1, "val_accuracy": val_acc,
                    "val_track_accuracy": val_track, "val_loss": val_loss,
                    "train_loss": loss_sum / max(1, seen), "lr": lr}) + "\n")
                if prune:
                    state = "pruned"
                    raise optuna.TrialPruned()
            path = os.path.join(self.a.out, "weights",
                                "trial-%05d.pt" % trial.number)
            torch.save(model.state_dict(), path + ".tmp")
            os.replace(path + ".tmp", path)
            return value
        except optuna.TrialPruned:
            raise
        except Exception as e:
            state = "failed: %s" % e
            raise
        finally:
            self.last_end = time.time()
            self.trials_log.write(json.dumps({
                "trial": trial.number, "pid": os.getpid(), "params": params,
                "state": state, "epochs": epoch, "start": t_start,
                "end": self.last_end, "setup_s": setup_s,
                "since_previous_s": between}) + "\n")


def make_pruner(optuna, spec, kind="study"):
    """The study's pruner ("study": HyperbandPruner for hyperband, none for
    random), or Optuna's SuccessiveHalvingPruner with its defaults ("sh")."""
    algo = spec["algorithm"]
    if kind == "sh":
        return optuna.pruners.SuccessiveHalvingPruner()
    if algo["type"] == "random":
        return optuna.pruners.NopPruner()
    return optuna.pruners.HyperbandPruner(
        min_resource=int(algo.get("min_epochs", 1)),
        max_resource=int(algo["max_epochs"]),
        reduction_factor=int(algo.get("eta", 3)))


def make_sampler(optuna, kind, seed):
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def process_main(a, index, spawned_at, counter, lock):
    """One worker process: attach to the study, then optimize one trial at a
    time while the shared counter has trials left."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_spec(a.study)
    w = Worker(a, spec)
    # One sampler per process, seeded with the study's seed plus the process
    # index: with one seed for all, every process would propose the same
    # configurations.
    sampler = make_sampler(optuna, a.sampler, int(spec.get("seed", 0)) + index)
    study = optuna.load_study(study_name=spec["name"], storage=a.storage,
                              sampler=sampler,
                              pruner=make_pruner(optuna, spec, a.pruner))
    ready = time.time()

    def claim():
        with lock:
            if counter.value <= 0:
                return False
            counter.value -= 1
            return True

    while claim():
        study.optimize(w.objective, n_trials=1, catch=(FloatingPointError,))
    ru = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.path.join(a.out, "procs.jsonl"), "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "spawned": spawned_at,
                            "ready": ready, "end": time.time(),
                            "cpu_s": ru.ru_utime + ru.ru_stime}) + "\n")


def evaluate_best(a, spec, study):
    """The best trial's final weights on the test split (segment and track
    accuracy, as hpo's evaluation)."""
    import torch
    import hpo_torch_models
    import train_torch_baseline as tb
    torch.set_num_threads(a.threads)
    best = study.best_trial
    shards = os.path.join(a.data, spec["data"]["shards"])
    with open(os.path.join(shards, "manifest.json")) as f:
        manifest = json.load(f)
    test = tb.MappedSplit(shards, manifest, "test")
    params = suggest(optuna_fixed(best), spec.get("search_space", {}))
    c = settings(spec, params)
    model = hpo_torch_models.build_model(
        c["model"], [int(s) for s in manifest["sample_shape"]],
        len(manifest["classes"]), **{k: c.get(k) for k in MODEL_KEYS})
    model.load_state_dict(torch.load(os.path.join(
        a.out, "weights", "trial-%05d.pt" % best.number)))
    loss, acc, track = tb.evaluate(model, test, int(c["batch_size"]))
    return best, params, loss, acc, track


def optuna_fixed(frozen):
    """An object with suggest_* that replays a finished trial's params."""
    class Replay:
        def _get(self, name, *args, **kwargs):
            return frozen.params[name]
        suggest_float = suggest_int = suggest_categorical = _get
    return Replay()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--study", required=True, help="hpo study file (JSON)")
    p.add_argument("--data", required=True,
                   help="the directory data.shards is relative to (hpo-worker's --data)")
    p.add_argument("--db", required=True, help="SQLite file for Optuna's RDB storage")
    p.add_argument("--out", required=True, help="output directory (logs, weights)")
    p.add_argument("--workers", type=int, default=2, help="parallel processes (2)")
    p.add_argument("--trials", type=int, required=True,
                   help="total trials (run.sh: the count hpo's Hyperband plans)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (1)")
    p.add_argument("--sampler", choices=("random", "tpe"), default="random",
                   help="RandomSampler (default: as hpo's Hyperband) or "
                   "TPESampler with Optuna's defaults")
    p.add_argument("--pruner", choices=("study", "sh"), default="study",
                   help="the study's (HyperbandPruner(min_epochs, max_epochs, "
                   "eta); none for random search; the default) or "
                   "SuccessiveHalvingPruner() with Optuna's defaults")
    a = p.parse_args()
    if a.workers < 1 or a.trials < 1 or a.threads < 1:
        p.error("--workers, --trials and --threads must be >= 1")
    t0 = time.time()
    spec = load_spec(a.study)
    shards = os.path.join(a.data, spec["data"]["shards"])
    if not os.path.isfile(os.path.join(shards, "manifest.json")):
        fail("%s: no manifest.json (make the shards with hpo-prep first)" % shards)
    os.makedirs(os.path.join(a.out, "weights"), exist_ok=True)
    for name in ("epochs.jsonl", "trials.jsonl", "procs.jsonl"):
        if os.path.exists(os.path.join(a.out, name)):
            os.remove(os.path.join(a.out, name))
    if os.path.exists(a.db):
        os.remove(a.db)
    a.storage = "sqlite:///" + os.path.abspath(a.db)
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name=spec["name"], storage=a.storage,
                        direction="maximize",
                        sampler=make_sampler(optuna, a.sampler, int(spec.get("seed", 0))),
                        pruner=make_pruner(optuna, spec, a.pruner))
    print("optuna_peer: study %s, %d trials, %d processes x %d thread(s), "
          "%s sampler, %s pruner, optuna %s, storage %s" % (
              spec["name"], a.trials, a.workers, a.threads, a.sampler,
              a.pruner, optuna.__version__, a.storage), flush=True)
    ctx = mp.get_context("spawn")
    counter = ctx.Value("i", a.trials)
    lock = ctx.Lock()
    procs = [ctx.Process(target=process_main, args=(a, i, time.time(), counter, lock))
             for i in range(a.workers)]
    for pr in procs:
        pr.start()

    def stop(signum, frame):  # SIGTERM: take the worker processes along.
        for pr in procs:
            if pr.is_alive():
                pr.terminate()
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    # Progress every 10 s from the storage (what a user would watch).
    last = 0
    epochs_path = os.path.join(a.out, "epochs.jsonl")
    while any(pr.is_alive() for pr in procs):
        time.sleep(0.5)
        if time.time() - last >= 10:
            last = time.time()
            best, n_epochs = None, 0
            if os.path.exists(epochs_path):
                with open(epochs_path) as f:
                    for line in f:
                        try:
                            r = json.loads(line)
                        except ValueError:
                            continue
                        n_epochs += 1
                        best = max(best or 0, r["val_accuracy"])
            done = a.trials - counter.value
            print("optuna_peer %4.0f s | trials started %d/%d | epochs %d | "
                  "best val_accuracy %s" % (time.time() - t0, done, a.trials,
                                            n_epochs,
                                            "-" if best is None else "%.3f" % best),
                  flush=True)
    bad = [pr.exitcode for pr in procs if pr.exitcode != 0]
    if bad:
        fail("a worker process failed (exit codes %s)" % bad)
    search_end = time.time()
    study = optuna.load_study(study_name=spec["name"], storage=a.storage)
    states = {}
    for t in study.trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    try:
        best, params, loss, acc, track = evaluate_best(a, spec, study)
    except ValueError as e:
        fail("no complete trial to evaluate on the test split (%s)" % e)
    for f in os.listdir(os.path.join(a.out, "weights")):
        if f != "trial-%05d.pt" % best.number:
            os.remove(os.path.join(a.out, "weights", f))
    end = time.time()
    summary = {"start": t0, "search_end": search_end, "end": end,
               "trials": len(study.trials), "states": states,
               "best_trial": best.number, "best_value": best.value,
               "best_params": params, "test_loss": loss,
               "test_accuracy": acc, "test_track_accuracy": track,
               "optuna": optuna.__version__}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("optuna_peer: done in %.1f s: %d trials %s; best trial %d, "
          "val_accuracy %.4f, test accuracy %.4f (track %.4f)" %
          (end - t0, len(study.trials), states, best.number, best.value, acc,
           track), flush=True)


if __name__ == "__main__":
    main()
