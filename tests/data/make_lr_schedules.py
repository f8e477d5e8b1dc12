#!/usr/bin/python3
"""Writes tests/data/lr_schedules.json: PyTorch's own LR sequences.

Each case is an hpo SchedulerConfig (every field, named as in
common/train_config.h), an LrContext, the metric fed to plateau after each
epoch, and the learning rate PyTorch's scheduler gives before every batch when
driven the way hpo's trainer drives it:

    for epoch in range(max_epochs):
        for batch in range(batches_per_epoch):
            record(optimizer.param_groups[0]['lr'])
            optimizer.step()
            per-batch schedulers (onecycle, cyclic): scheduler.step()
        epoch schedulers: scheduler.step(), plateau: scheduler.step(metric)

Floats are written with repr, so the JSON holds every double exactly.
worker/lr_scheduler_test.cc compares hpo's schedulers with these sequences.

Run with Debian's Python and torch 1.13 (apt-get install python3-torch):
    /usr/bin/python3 tests/data/make_lr_schedules.py
"""

import json
import math
import os
import sys
import warnings

import torch

# SchedulerConfig's defaults (common/train_config.h).
DEFAULTS = {
    "name": "none",
    "step_size": 10,
    "gamma": 0.1,
    "exp_gamma": 0.95,
    "t_max": 0,
    "eta_min": 0.0,
    "max_lr": 0.0,
    "max_lr_factor": 1.0,
    "pct_start": 0.3,
    "div_factor": 25.0,
    "final_div_factor": 1e4,
    "anneal": "cos",
    "three_phase": False,
    "plateau_factor": 0.1,
    "plateau_patience": 10,
    "plateau_threshold": 1e-4,
    "plateau_threshold_mode": "rel",
    "plateau_cooldown": 0,
    "min_lr": 0.0,
    "base_lr": 0.0,
    "cyclic_max_lr_factor": 4.0,
    "cyclic_mode": "triangular",
    "cyclic_gamma": 1.0,
    "step_size_up_epochs": 2.0,
    "step_size_up_batches": 0,
}

PER_BATCH = {"onecycle", "cyclic"}


def case(name, config, base_lr, batches_per_epoch, max_epochs, maximize=False,
         metrics=None):
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        sys.exit("case %s: unknown SchedulerConfig fields %s" % (name, unknown))
    full = dict(DEFAULTS)
    full.update(config)
    if metrics is not None and len(metrics) != max_epochs:
        sys.exit("case %s: needs one metric per epoch" % name)
    return {
        "name": name,
        "config": full,
        "context": {
            "base_lr": base_lr,
            "batches_per_epoch": batches_per_epoch,
            "max_epochs": max_epochs,
            "maximize": maximize,
        },
        "metrics": metrics if metrics is not None else [0.0] * max_epochs,
    }


CASES = [
    case("none", {"name": "none"}, 0.01, 3, 4),
    case("step_every_3_half", {"name": "step", "step_size": 3, "gamma": 0.5},
         0.1, 2, 10),
    case("step_every_epoch_default_gamma", {"name": "step", "step_size": 1},
         0.03, 1, 8),
    case("exponential_0.9", {"name": "exponential", "exp_gamma": 0.9},
         0.05, 2, 12),
    case("exponential_default", {"name": "exponential"}, 0.003, 3, 20),
    case("cosine_t_max_from_max_epochs", {"name": "cosine"}, 0.1, 2, 10),
    case("cosine_beyond_t_max", {"name": "cosine", "t_max": 4,
                                 "eta_min": 1e-5}, 0.02, 1, 19),
    case("cosine_t_max_1", {"name": "cosine", "t_max": 1, "eta_min": 0.001},
         0.01, 2, 6),
    case("cosine_eta_min_above_lr", {"name": "cosine", "t_max": 3,
                                     "eta_min": 0.5}, 0.1, 1, 8),
    case("onecycle_cos", {"name": "onecycle", "max_lr": 0.1}, 0.01, 7, 5),
    case("onecycle_linear_factor", {"name": "onecycle", "anneal": "linear",
                                    "max_lr_factor": 10.0, "pct_start": 0.25,
                                    "div_factor": 10.0,
                                    "final_div_factor": 100.0}, 0.003, 6, 4),
    case("onecycle_three_phase_cos", {"name": "onecycle", "max_lr": 0.5,
                                      "three_phase": True, "pct_start": 0.35},
         0.1, 5, 6),
    case("onecycle_three_phase_linear", {"name": "onecycle", "max_lr": 0.2,
                                         "three_phase": True,
                                         "anneal": "linear",
                                         "pct_start": 0.4}, 0.1, 4, 5),
    case("onecycle_pct_start_0", {"name": "onecycle", "max_lr": 0.05,
                                  "pct_start": 0.0}, 0.01, 3, 4),
    case("onecycle_pct_start_1", {"name": "onecycle", "max_lr": 0.05,
                                  "pct_start": 1.0, "anneal": "linear"},
         0.01, 3, 4),
    case("onecycle_warmup_under_one_step", {"name": "onecycle",
                                            "max_lr": 0.05,
                                            "pct_start": 0.01}, 0.01, 4, 5),
    case("onecycle_one_batch", {"name": "onecycle", "max_lr_factor": 3.0},
         0.02, 1, 7),
    case("plateau_min_rel", {"name": "plateau", "plateau_patience": 1,
                             "plateau_factor": 0.5},
         0.1, 2, 12, False,
         [1.0, 0.9, 0.9, 0.95, 0.8, 0.79999, 0.85, 0.7, 0.71, 0.72, 0.73,
          0.6]),
    case("plateau_max_rel_cooldown", {"name": "plateau", "plateau_patience": 0,
                                      "plateau_cooldown": 2,
                                      "plateau_threshold": 0.01},
         0.5, 1, 12, True,
         [0.1, 0.2, 0.201, 0.15, 0.3, 0.3, 0.29, 0.28, 0.27, 0.4, 0.4, 0.4]),
    case("plateau_min_abs_min_lr", {"name": "plateau", "plateau_patience": 2,
                                    "plateau_threshold_mode": "abs",
                                    "plateau_threshold": 0.05,
                                    "plateau_cooldown": 1,
                                    "plateau_factor": 0.2, "min_lr": 0.003},
         0.1, 3, 16, False,
         [2.0, 1.9, 1.96, 1.8, 1.79, 1.78, 1.77, 1.76, 1.75, 1.74, 1.73,
          1.72, 1.71, 1.70, 1.69, 1.68]),
    case("plateau_max_abs_eps", {"name": "plateau", "plateau_patience": 0,
                                 "plateau_threshold_mode": "abs",
                                 "plateau_threshold": 0.0,
                                 "plateau_factor": 0.5, "min_lr": 0.00999999},
         0.04, 2, 8, True,
         [0.5, 0.4, 0.4, 0.6, 0.5, 0.5, 0.5, -0.5]),
    case("plateau_negative_metrics", {"name": "plateau", "plateau_patience": 1,
                                      "plateau_factor": 0.3,
                                      "plateau_threshold": 0.1},
         0.2, 1, 10, False,
         # With a negative best, "rel" min mode counts a slightly worse
         # metric as better (best * (1 - threshold) is above best).
         [-1.0, -0.95, -0.8, -0.7, -0.9, -0.5, -0.4, -0.3, -0.77, -0.2]),
    case("cyclic_triangular", {"name": "cyclic",
                               "step_size_up_batches": 3},
         0.01, 4, 5),
    case("cyclic_triangular2_epochs", {"name": "cyclic",
                                       "cyclic_mode": "triangular2",
                                       "step_size_up_epochs": 1.5,
                                       "cyclic_max_lr_factor": 6.0},
         0.001, 4, 9),
    case("cyclic_exp_range", {"name": "cyclic", "cyclic_mode": "exp_range",
                              "cyclic_gamma": 0.97,
                              "step_size_up_batches": 5},
         0.002, 6, 6),
    case("cyclic_explicit_base_and_max", {"name": "cyclic", "base_lr": 0.0005,
                                          "max_lr": 0.007,
                                          "step_size_up_epochs": 0.6},
         0.1, 5, 6),
]


def step_size_up(config, batches_per_epoch):
    """hpo's rule: step_size_up_batches, else step_size_up_epochs x batches
    per epoch rounded half away from zero (C++'s std::llround)."""
    if config["step_size_up_batches"] > 0:
        return config["step_size_up_batches"]
    return int(math.floor(config["step_size_up_epochs"] * batches_per_epoch +
                          0.5))


def make_scheduler(config, context, optimizer):
    name = config["name"]
    base_lr = context["base_lr"]
    total_steps = context["max_epochs"] * context["batches_per_epoch"]
    sched = torch.optim.lr_scheduler
    if name == "none":
        return None
    if name == "step":
        return sched.StepLR(optimizer, step_size=config["step_size"],
                            gamma=config["gamma"])
    if name == "exponential":
        return sched.ExponentialLR(optimizer, gamma=config["exp_gamma"])
    if name == "cosine":
        t_max = config["t_max"] or context["max_epochs"]
        return sched.CosineAnnealingLR(optimizer, T_max=t_max,
                                       eta_min=config["eta_min"])
    if name == "onecycle":
        max_lr = config["max_lr"] or base_lr * config["max_lr_factor"]
        return sched.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=total_steps,
            pct_start=config["pct_start"], anneal_strategy=config["anneal"],
            cycle_momentum=False, div_factor=config["div_factor"],
            final_div_factor=config["final_div_factor"],
            three_phase=config["three_phase"])
    if name == "plateau":
        return sched.ReduceLROnPlateau(
            optimizer, mode="max" if context["maximize"] else "min",
            factor=config["plateau_factor"],
            patience=config["plateau_patience"],
            threshold=config["plateau_threshold"],
            threshold_mode=config["plateau_threshold_mode"],
            cooldown=config["plateau_cooldown"], min_lr=config["min_lr"],
            eps=1e-8)
    if name == "cyclic":
        cyc_base = config["base_lr"] or base_lr
        cyc_max = config["max_lr"] or cyc_base * config["cyclic_max_lr_factor"]
        return sched.CyclicLR(
            optimizer, base_lr=cyc_base, max_lr=cyc_max,
            step_size_up=step_size_up(config, context["batches_per_epoch"]),
            mode=config["cyclic_mode"], gamma=config["cyclic_gamma"],
            cycle_momentum=False)
    sys.exit("unknown scheduler " + name)


def run(case_):
    config, context = case_["config"], case_["context"]
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=context["base_lr"])
    scheduler = make_scheduler(config, context, optimizer)
    per_batch = config["name"] in PER_BATCH
    total_steps = context["max_epochs"] * context["batches_per_epoch"]
    lrs = []
    step = 0
    for epoch in range(context["max_epochs"]):
        row = []
        for _ in range(context["batches_per_epoch"]):
            row.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.zero_grad()
            param.sum().backward()
            optimizer.step()
            step += 1
            # OneCycleLR's step after the last batch computes an lr that no
            # batch uses, and divides by zero when pct_start is 1: skip it.
            last = config["name"] == "onecycle" and step == total_steps
            if scheduler is not None and per_batch and not last:
                scheduler.step()
        lrs.append(row)
        if scheduler is None or per_batch:
            continue
        if config["name"] == "plateau":
            scheduler.step(case_["metrics"][epoch])
        else:
            scheduler.step()
    return lrs


def dump(value, indent=0):
    """JSON with repr floats; lists of scalars stay on one line."""
    pad = "  " * indent
    if isinstance(value, dict):
        items = ['%s  %s: %s' % (pad, json.dumps(k), dump(v, indent + 1))
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return "[" + ", ".join(dump(v) for v in value) + "]"
        items = [pad + "  " + dump(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if isinstance(value, float):
        if not math.isfinite(value):
            sys.exit("non-finite value %r cannot be written as JSON" % value)
        return repr(value)
    return json.dumps(value)


def main():
    warnings.simplefilter("ignore")
    torch.set_default_dtype(torch.float64)
    for case_ in CASES:
        case_["lrs"] = run(case_)
    out = {
        "about": "PyTorch's LR schedulers driven as hpo's trainer drives "
                 "them; written by tests/data/make_lr_schedules.py",
        "torch_version": torch.__version__,
        "cases": CASES,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "lr_schedules.json")
    with open(path, "w") as f:
        f.write(dump(out) + "\n")
    print("wrote %d cases to %s" % (len(CASES), path))


if __name__ == "__main__":
    main()
