#!/usr/bin/python3
"""Writes tests/data/sampler_reference.json: what Optuna 3.1 and statsmodels
compute for TPE's and BOHB's building blocks, for tests/search/learned_test.cc.

- "truncnorm": Optuna's own truncated-normal helpers
  (optuna/samplers/_tpe/_truncnorm.py): log Phi(x), log(Phi(b) - Phi(a)),
  Phi^-1(exp(y)) and the truncated normal's log density (with the -log(scale)
  term that Optuna 3.1 leaves out, see below), far into the tails.
- "default_weights": optuna.samplers._tpe.sampler.default_weights(n).
- "parzen": optuna's _ParzenEstimator on fixed observations (values as a
  study records them, a choice as its option's index), each
  case with its parameters' distributions and estimator options; the kernel
  weights, means and bandwidths (in Optuna's internal coordinates: the log
  for log parameters), categorical weights, and log_pdf at points.
- "kde": statsmodels.nonparametric.KDEMultivariate(bw="normal_reference")
  on fixed data with continuous ('c') and unordered ('u') columns: its
  bandwidths and pdf at points (every category appears in each column, so
  statsmodels' level count is the number of choices).

Floats are written with repr, so the JSON holds every double exactly.
Run with Debian's Python (apt-get install python3-optuna python3-statsmodels):
    /usr/bin/python3 tests/data/make_sampler_reference.py
"""

import json
import os

import numpy as np
from optuna import distributions as D
from optuna.samplers._tpe import _truncnorm as tn
from optuna.samplers._tpe.parzen_estimator import (_ParzenEstimator,
                                                   _ParzenEstimatorParameters)
from optuna.samplers._tpe.sampler import default_weights
from statsmodels.nonparametric.kernel_density import KDEMultivariate

HERE = os.path.dirname(os.path.abspath(__file__))

# Optuna 3.1's truncnorm.logpdf leaves out the -log(scale) term of the
# density. hpo's TruncatedNormalLogPdf is the true density (the "logpdf"
# cases add the term back); its Parzen estimators add log(scale) back to
# match Optuna 3.1's estimators (the "parzen" cases are Optuna's as is).


def _true_logpdf(x, a, b, loc=0, scale=1):
    return tn.logpdf(x, a, b, loc=loc, scale=scale) - np.log(scale)


def floats(a):
    return [float(v) for v in np.asarray(a, dtype=float).ravel()]


def truncnorm_cases():
    xs = [-60.0, -25.0, -19.5, -8.0, -1.0, 0.0, 0.7, 5.0, 9.0]
    masses = [(-3.0, -1.0), (-1.0, 2.0), (0.5, 4.0), (-45.0, -40.0),
              (30.0, 31.0), (-0.1, 0.1), (-100.0, 100.0), (6.0, 70.0)]
    ys = [-1e-9, -0.01, -0.693, -3.0, -40.0, -800.0, -2000.0]
    pdfs = [(0.3, 0.0, 1.0, 0.5, 0.2), (1e-3, 0.0, 1.0, 0.9, 0.01),
            (2.0, -1.0, 3.0, 0.0, 5.0), (-4.6, -11.5, -2.3, -6.9, 0.05)]
    return {
        "log_ndtr": [{"x": x, "value": float(tn._log_ndtr(np.array([x]))[0])}
                     for x in xs],
        "log_gauss_mass": [
            {"a": a, "b": b,
             "value": float(tn._log_gauss_mass(np.array([a]),
                                               np.array([b]))[0])}
            for a, b in masses],
        "ndtri_exp": [{"y": y, "value": float(tn._ndtri_exp(np.array([y]))[0])}
                      for y in ys],
        "logpdf": [
            {"x": x, "low": lo, "high": hi, "loc": loc, "scale": sc,
             "value": float(_true_logpdf(np.array([x]), (lo - loc) / sc,
                                      (hi - loc) / sc, loc=loc,
                                      scale=sc)[0])}
            for x, lo, hi, loc, sc in pdfs],
    }


# Parameters as hpo's study files write them, and as Optuna distributions.
PARAMS = {
    "x": ({"type": "uniform", "low": -2.0, "high": 3.0},
          D.FloatDistribution(-2.0, 3.0)),
    "lr": ({"type": "loguniform", "low": 1e-5, "high": 1e-1},
           D.FloatDistribution(1e-5, 1e-1, log=True)),
    "units": ({"type": "int", "low": 16, "high": 256, "step": 16},
              D.IntDistribution(16, 256, step=16)),
    "batch": ({"type": "int", "low": 8, "high": 512, "log": True},
              D.IntDistribution(8, 512, log=True)),
    "opt": ({"type": "choice", "values": ["adam", "sgd", "rmsprop"]},
            D.CategoricalDistribution(["adam", "sgd", "rmsprop"])),
}


def parzen_case(names, observations, multivariate, magic_clip=True,
                endpoints=False, prior_weight=1.0, points=None):
    space = {n: PARAMS[n][1] for n in names}
    obs = {n: np.asarray([o[i] for o in observations], dtype=float)
           for i, n in enumerate(names)}
    params = _ParzenEstimatorParameters(
        consider_prior=True, prior_weight=prior_weight,
        consider_magic_clip=magic_clip, consider_endpoints=endpoints,
        weights=default_weights, multivariate=multivariate)
    pe = _ParzenEstimator(obs, space, params)
    out = {
        "params": {n: PARAMS[n][0] for n in names},
        "names": names,
        "observations": [floats(o) for o in observations],
        "options": {"multivariate": multivariate, "magic_clip": magic_clip,
                    "endpoints": endpoints, "prior_weight": prior_weight},
        "weights": floats(pe._weights),
        "mus": {}, "sigmas": {}, "categorical": {},
    }
    for n in names:
        if pe._mus[n] is not None:
            out["mus"][n] = floats(pe._mus[n])
            out["sigmas"][n] = floats(pe._sigmas[n])
        else:
            out["categorical"][n] = [floats(r) for r in pe._categorical_weights[n]]
    # log_pdf takes external values: the value itself, the choice's index.
    pts = points or []
    samples = {n: np.asarray([p[i] for p in pts], dtype=float)
               for i, n in enumerate(names)}
    for i, n in enumerate(names):
        if isinstance(space[n], D.CategoricalDistribution):
            samples[n] = samples[n].astype(int)
        elif isinstance(space[n], D.IntDistribution):
            samples[n] = samples[n].astype(float)
    out["points"] = [floats(p) for p in pts]
    out["log_pdf"] = floats(pe.log_pdf(samples)) if pts else []
    return out


def parzen_cases():
    rng = np.random.RandomState(7)
    lr = 10 ** rng.uniform(-5, -1, size=30)
    x = rng.uniform(-2, 3, size=30)
    units = 16 * rng.randint(1, 17, size=30)
    batch = np.round(np.exp(rng.uniform(np.log(7.5), np.log(512.5), 30))).clip(8, 512)
    opt = rng.randint(0, 3, size=30)
    return [
        parzen_case(["x"], [[v] for v in x[:5]], False,
                    points=[[-2.0], [0.1], [2.9]]),
        parzen_case(["x"], [[v] for v in x], False, endpoints=True,
                    points=[[-1.5], [1.0]]),
        parzen_case(["lr"], [[v] for v in lr[:12]], False,
                    points=[[1e-5], [3e-3], [0.09]]),
        parzen_case(["units"], [[float(v)] for v in units[:8]], False,
                    points=[[16], [128], [256]]),
        parzen_case(["batch"], [[v] for v in batch[:6]], False,
                    magic_clip=False, points=[[8], [100], [512]]),
        parzen_case(["opt"], [[float(v)] for v in opt[:9]], False,
                    prior_weight=2.0, points=[[0], [1], [2]]),
        parzen_case(["x"], [], False, points=[[0.0], [2.0]]),
        parzen_case(["x", "lr", "units", "opt"],
                    [[x[i], lr[i], float(units[i]), float(opt[i])]
                     for i in range(27)], True,
                    points=[[0.5, 1e-3, 64, 1], [-1.9, 5e-5, 256, 2]]),
    ]


def kde_case():
    rng = np.random.RandomState(3)
    n = 12
    data = np.column_stack([rng.uniform(0, 1, n), rng.randint(0, 3, n),
                            rng.uniform(0, 1, n)])
    data[:3, 1] = [0, 1, 2]  # Every level appears.
    kde = KDEMultivariate(data=data, var_type="cuc", bw="normal_reference")
    points = [[0.5, 1, 0.5], [0.1, 0, 0.9], [0.95, 2, 0.02]]
    bw_set = [0.2, 0.3, 0.05]
    kde2 = KDEMultivariate(data=data, var_type="cuc", bw=bw_set)
    return {
        "data": [floats(r) for r in data],
        "levels": [0, 3, 0],
        "bandwidth": floats(kde.bw),
        "points": points,
        "pdf": [float(kde.pdf(np.asarray(p))) for p in points],
        "set_bandwidth": bw_set,
        "pdf_set_bandwidth": [float(kde2.pdf(np.asarray(p))) for p in points],
    }


def main():
    out = {
        "truncnorm": truncnorm_cases(),
        "default_weights": {str(n): floats(default_weights(n))
                            for n in [0, 1, 24, 25, 26, 40]},
        "parzen": parzen_cases(),
        "kde": kde_case(),
    }
    path = os.path.join(HERE, "sampler_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
