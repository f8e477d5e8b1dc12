#!/usr/bin/python3
"""Writes tests/data/optimizer_reference.json: PyTorch's own optimizer steps.

A small fixed least-squares problem in float64,

    loss = sum((x @ w + b - y) ** 2),  w: 3x2, b: 2, x: 4x3, y: 4x2,

is optimized for STEPS steps by each case's torch.optim optimizer, built from
an hpo OptimizerConfig (every field, named as in common/train_config.h) the
way worker/optimizers.cc builds it. Before every step the learning rate of
every parameter group is set to the case's lrs[step], as hpo's LR scheduler
does before each batch:

    for step in range(STEPS):
        for group in optimizer.param_groups: group['lr'] = lrs[step]
        optimizer.zero_grad(); loss(w, b).backward(); optimizer.step()
        record(w, b)

The problem (initial w and b, x, y) is in the JSON too. Floats are written
with repr, so the JSON holds every double exactly. worker/optimizers_test.cc
replays each case with hpo::NewOptimizer and compares every step.

Run with Debian's Python and torch 1.13 (apt-get install python3-torch):
    /usr/bin/python3 tests/data/make_optimizer_reference.py
"""

import json
import os
import sys

import torch

STEPS = 8

# OptimizerConfig's defaults (common/train_config.h); eps -1 means the
# optimizer's PyTorch default.
DEFAULTS = {
    "name": "adam",
    "lr": 1e-3,
    "weight_decay": 0.0,
    "momentum": 0.0,
    "nesterov": False,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": -1.0,
    "alpha": 0.99,
    "rho": 0.9,
}

PROBLEM = {
    "w": [[0.5, -0.25], [0.125, 0.75], [-0.625, 0.3125]],
    "b": [0.1, -0.2],
    "x": [[1.0, 2.0, -1.0], [0.5, -1.5, 2.0], [-2.0, 0.25, 1.0],
          [1.5, 1.0, 0.5]],
    "y": [[1.0, -1.0], [0.0, 2.0], [-1.5, 0.5], [2.5, 1.0]],
}

# An lr that changes between steps, as a scheduler would.
DECAYING = [0.05, 0.04, 0.03, 0.025, 0.02, 0.015, 0.0125, 0.01]


def case(label, lrs=None, **config):
    full = dict(DEFAULTS)
    unknown = set(config) - set(full)
    if unknown:
        sys.exit("unknown config keys: %s" % sorted(unknown))
    full.update(config)
    if lrs is None:
        lrs = [full["lr"]] * STEPS
    assert len(lrs) == STEPS
    return {"name": label, "config": full, "lrs": lrs}


CASES = [
    case("adam", name="adam", lr=0.01),
    case("adam_weight_decay_betas_eps", name="adam", lr=0.02,
         weight_decay=0.1, beta1=0.8, beta2=0.99, eps=1e-6),
    case("adamw", name="adamw", lr=0.01),
    case("adamw_weight_decay_scheduled", lrs=DECAYING, name="adamw",
         lr=0.05, weight_decay=0.05, beta1=0.85, beta2=0.995),
    case("sgd", name="sgd", lr=0.01),
    case("sgd_momentum_weight_decay", name="sgd", lr=0.01, momentum=0.9,
         weight_decay=1e-3),
    case("sgd_nesterov_scheduled", lrs=DECAYING, name="sgd", lr=0.05,
         momentum=0.8, nesterov=True),
    case("rmsprop", name="rmsprop", lr=0.01),
    case("rmsprop_momentum_weight_decay", name="rmsprop", lr=0.005,
         momentum=0.9, weight_decay=0.01, alpha=0.9, eps=1e-6),
    case("adagrad", name="adagrad", lr=0.1),
    case("adagrad_weight_decay_scheduled", lrs=DECAYING, name="adagrad",
         lr=0.05, weight_decay=0.1, eps=1e-8),
    case("adadelta", name="adadelta", lr=1.0),
    case("adadelta_rho_eps_weight_decay", name="adadelta", lr=2.0, rho=0.95,
         eps=1e-5, weight_decay=0.01),
    case("adadelta_scheduled", lrs=[1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3],
         name="adadelta", lr=1.0, rho=0.8),
]


def build(params, c):
    """The torch.optim equivalent of hpo::NewOptimizer(c, params)."""
    eps = c["eps"]
    name = c["name"]
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]),
                   eps=1e-8 if eps == -1 else eps,
                   weight_decay=c["weight_decay"])
    if name == "sgd":
        return torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"],
                               dampening=0, nesterov=c["nesterov"],
                               weight_decay=c["weight_decay"])
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=c["lr"], alpha=c["alpha"],
                                   eps=1e-8 if eps == -1 else eps,
                                   momentum=c["momentum"],
                                   weight_decay=c["weight_decay"])
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=c["lr"],
                                   eps=1e-10 if eps == -1 else eps,
                                   weight_decay=c["weight_decay"])
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=c["lr"], rho=c["rho"],
                                    eps=1e-6 if eps == -1 else eps,
                                    weight_decay=c["weight_decay"])
    raise ValueError(name)


def run(c):
    dt = torch.float64
    w = torch.tensor(PROBLEM["w"], dtype=dt, requires_grad=True)
    b = torch.tensor(PROBLEM["b"], dtype=dt, requires_grad=True)
    x = torch.tensor(PROBLEM["x"], dtype=dt)
    y = torch.tensor(PROBLEM["y"], dtype=dt)
    optimizer = build([w, b], c["config"])
    steps = []
    for lr in c["lrs"]:
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        ((x @ w + b - y) ** 2).sum().backward()
        optimizer.step()
        steps.append({"w": w.detach().tolist(), "b": b.detach().tolist()})
    return steps


def main():
    out = {
        "about": "PyTorch's optimizers on a fixed float64 least-squares "
                 "problem; written by tests/data/make_optimizer_reference.py",
        "torch_version": torch.__version__,
        "problem": PROBLEM,
        "cases": [],
    }
    for c in CASES:
        out["cases"].append(dict(c, steps=run(c)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "optimizer_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote %d cases to %s" % (len(CASES), path))


if __name__ == "__main__":
    main()
