#!/usr/bin/python3
"""Optuna's samplers on the functions of bench/sampler_bench.cc, as an Optuna
user would run them: study.optimize, one process, in-memory storage, the
sampler seeded. Prints the same JSON lines as sampler_bench.

    /usr/bin/python3 bench/samplers/optuna_peer.py --function hartmann6 \
        --sampler tpe [--seeds 30] [--trials 100] [--first-seed 0]
"""

import argparse
import json
import math
import time

import optuna


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
     [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
     [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
     [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
     [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(p):
    x = [p["x%d" % (j + 1)] for j in range(6)]
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2
                                         for j in range(6)))
                for i in range(4))


def mixed(p):
    f = hartmann6(p) + {"a": 0.0, "b": 0.3, "c": 0.6}[p["kind"]]
    if p["kind"] == "c":
        f -= 1.2 * math.exp(-((p["bonus"] - 0.7) / 0.1) ** 2)
    return f


def objective(function):
    def run(trial):
        p = {}
        if function == "branin":
            p["x1"] = trial.suggest_float("x1", -5, 10)
            p["x2"] = trial.suggest_float("x2", 0, 15)
            return branin(p)
        for j in range(6):
            p["x%d" % (j + 1)] = trial.suggest_float("x%d" % (j + 1), 0, 1)
        if function == "hartmann6":
            return hartmann6(p)
        p["kind"] = trial.suggest_categorical("kind", ["a", "b", "c"])
        if p["kind"] == "c":
            p["bonus"] = trial.suggest_float("bonus", 0, 1)
        return mixed(p)
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--function", required=True,
                    choices=["branin", "hartmann6", "mixed"])
    ap.add_argument("--sampler", required=True,
                    choices=["random", "tpe", "tpe_multivariate"])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--first-seed", type=int, default=0)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import warnings
    warnings.filterwarnings("ignore")  # multivariate is "experimental".
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        if args.sampler == "random":
            sampler = optuna.samplers.RandomSampler(seed=seed)
        else:
            sampler = optuna.samplers.TPESampler(
                seed=seed, multivariate=args.sampler == "tpe_multivariate")
        study = optuna.create_study(sampler=sampler)
        start = time.perf_counter()
        study.optimize(objective(args.function), n_trials=args.trials)
        seconds = time.perf_counter() - start
        curve, best = [], math.inf
        for t in study.trials:
            best = min(best, t.value)
            curve.append(best)
        print(json.dumps({"function": args.function, "sampler": args.sampler,
                          "seed": seed, "best": best, "curve": curve,
                          "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
