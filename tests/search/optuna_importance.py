"""Optuna's own fANOVA importances of the trials in a JSON file.

Usage: optuna_importance.py TRIALS.json OUT.json

TRIALS.json: {"distributions": {name: {"type": "float", "low", "high"} |
{"type": "int", "low", "high"} | {"type": "categorical", "choices": [...]}},
"trials": [{"params": {...}, "value": v}, ...]}. Writes {name: importance}
from optuna.importance.FanovaImportanceEvaluator (64 trees, depth 64), the
mean over `seeds` seeds so its own randomness is small. Reference values for
hpo's tests (tests/search/importance_test.cc); not part of hpo.
"""
import json
import sys

import optuna
from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                  IntDistribution)


def main():
    spec = json.load(open(sys.argv[1]))
    distributions = {}
    for name, d in spec["distributions"].items():
        if d["type"] == "float":
            distributions[name] = FloatDistribution(d["low"], d["high"])
        elif d["type"] == "int":
            distributions[name] = IntDistribution(d["low"], d["high"])
        else:
            distributions[name] = CategoricalDistribution(d["choices"])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for t in spec["trials"]:
        study.add_trial(optuna.trial.create_trial(
            params=t["params"], distributions=distributions, value=t["value"]))
    seeds = spec.get("seeds", 8)
    total = {name: 0.0 for name in distributions}
    for seed in range(seeds):
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        for name, v in optuna.importance.get_param_importances(
                study, evaluator=evaluator).items():
            total[name] += v / seeds
    json.dump(total, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
