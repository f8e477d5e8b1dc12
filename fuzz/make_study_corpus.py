#!/usr/bin/env python3
"""Writes the study fuzzers' seed corpus to fuzz/corpus/study/: the study
files under studies/, the JSON studies embedded in the tests, and one small
study per algorithm and parameter kind. Usage: fuzz/make_study_corpus.py"""
import glob
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus", "study")


def base(algorithm, space, budget=None, trainer=None):
    study = {
        "name": "seed",
        "objective": {"metric": "val_loss", "mode": "min"},
        "trainer": trainer or {"model": "synthetic"},
        "search_space": space,
        "algorithm": algorithm,
    }
    if budget:
        study["budget"] = budget
    return study


SPACE = {
    "lr": {"type": "loguniform", "low": 1e-5, "high": 0.1},
    "batch_size": {"type": "int", "low": 16, "high": 128, "log": True},
    "scheduler": {"type": "choice", "values": ["none", "cyclic"]},
    "cyclic_max_lr_factor": {"type": "uniform", "low": 2, "high": 10,
                             "when": {"scheduler": "cyclic"}},
}
GRID_SPACE = {
    "lr": {"type": "loguniform", "low": 1e-4, "high": 0.1,
           "grid": [1e-4, 1e-3, 1e-2]},
    "channels": {"type": "choice", "values": [[32, 64], [64, 64]]},
    "kernel_size": {"type": "int", "low": 3, "high": 7, "step": 2},
    "dropout": {"type": "uniform", "low": 0, "high": 0.5,
                "grid": [0, 0.25], "when": {"kernel_size": [3, 5]}},
}
TRAINER = {
    "model": "crnn", "optimizer": "sgd", "momentum": 0.9, "nesterov": True,
    "scheduler": "onecycle", "max_lr": 0.1, "pct_start": 0.3,
    "anneal": "linear", "channels": [32, 64], "dense": [128],
    "padding": "same", "activation": "elu", "init": "kaiming",
    "gru_hidden": 32, "gru_layers": 2, "bidirectional": True,
    "batch_size": 32, "label_smoothing": 0.1, "grad_clip": 1.0, "amp": False,
    "augment": {"spec_time_mask": 8, "spec_freq_mask": 4, "masks": 2},
}
SEEDS = {
    "random": base({"type": "random", "max_epochs": 5}, SPACE,
                   {"max_trials": 20, "max_hours": 1.5}),
    "grid": base({"type": "grid", "max_epochs": 3}, GRID_SPACE),
    "successive_halving": base(
        {"type": "successive_halving", "min_epochs": 1, "max_epochs": 9,
         "eta": 3, "n": 12}, SPACE),
    "hyperband": base(
        {"type": "hyperband", "min_epochs": 1, "max_epochs": 27, "eta": 3,
         "iterations": 2}, SPACE, {"max_trials": 30}),
    "asha": base({"type": "asha", "min_epochs": 1, "max_epochs": 16,
                  "eta": 2, "brackets": 2}, SPACE, {"max_trials": 40}),
    "median": base({"type": "median", "max_epochs": 10, "warmup_epochs": 2,
                    "min_trials": 3}, SPACE, {"max_trials": 10}),
    "trainer": dict(base({"type": "random", "max_epochs": 2},
                         {"lr": {"type": "uniform", "low": 0.01,
                                 "high": 0.1}},
                         {"max_trials": 2}, TRAINER),
                    execution={"max_attempts": 2, "heartbeat_s": 1,
                               "lease_timeout_s": 10},
                    data={"shards": "shards/x"}, seed=3,
                    description="every trainer setting"),
    "trainer_params": {"trainer": TRAINER,
                       "params": {"lr": 0.5, "scheduler": "cyclic",
                                  "cyclic_mode": "exp_range",
                                  "step_size_up_batches": 100}},
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(ROOT, "studies", "*.json"))):
        with open(path, "rb") as f:
            data = f.read()
        with open(os.path.join(OUT, "studies_" + os.path.basename(path)),
                  "wb") as f:
            f.write(data)
    count = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "**", "*.cc"),
                                 recursive=True)):
        with open(path) as f:
            text = f.read()
        for m in re.finditer(r'R"\((.*?)\)"', text, re.S):
            try:
                study = json.loads(m.group(1))
            except ValueError:
                continue
            if isinstance(study, dict) and "algorithm" in study:
                count += 1
                name = "test_%s_%d.json" % (
                    os.path.splitext(os.path.basename(path))[0], count)
                with open(os.path.join(OUT, name), "w") as f:
                    json.dump(study, f)
    for name, study in SEEDS.items():
        with open(os.path.join(OUT, "seed_%s.json" % name), "w") as f:
            json.dump(study, f, indent=1)


if __name__ == "__main__":
    main()
