"""hpo's command-trainer protocol for Python training scripts.

hpo-worker runs a study's "trainer": {"command": [...]} once per job and reads
what the program prints. This module prints it: standard library only, so any
Python 3 the program runs under can import it (copy it next to the script or
put hpo's python/ directory on PYTHONPATH).

    import hpo_trial
    params = hpo_trial.params()            # the trial's parameters
    start = hpo_trial.from_epoch()         # epochs already done
    ckpt = hpo_trial.resume_checkpoint()   # None for a new trial
    for epoch in range(start + 1, hpo_trial.to_epoch() + 1):
        ...train one epoch...
        hpo_trial.report(epoch, val_accuracy=acc, val_loss=loss)
    path = os.path.join(hpo_trial.checkpoint_dir(), f"epoch-{epoch}.pt")
    ...save the model there...
    hpo_trial.checkpoint(epoch, path)

The lines themselves (one per epoch, then one after the last epoch):
    hpo-metrics {"epoch": 3, "val_accuracy": 0.61, "val_loss": 1.2}
    hpo-checkpoint {"epoch": 9, "path": "..."}
"""

import json
import math
import os
import sys

__all__ = [
    "params", "trial", "from_epoch", "to_epoch", "resume_checkpoint",
    "checkpoint_dir", "data_dir", "report", "checkpoint", "fail_config",
    "fail_data", "EXIT_CONFIG", "EXIT_DATA",
]

# Exit codes hpo-worker reads as failures another attempt would not fix
# (any other non-zero code is retried): the study's settings or parameters
# cannot work, or this worker cannot read the data.
EXIT_CONFIG = 78
EXIT_DATA = 65


def params():
    """The trial's parameters (HPO_PARAMS), as a dict."""
    return json.loads(os.environ.get("HPO_PARAMS", "{}"))


def trial():
    """The trial's number (HPO_TRIAL)."""
    return int(os.environ.get("HPO_TRIAL", "0"))


def from_epoch():
    """Epochs the trial has already trained (HPO_FROM_EPOCH): resume after."""
    return int(os.environ.get("HPO_FROM_EPOCH", "0"))


def to_epoch():
    """The last epoch this run trains (HPO_TO_EPOCH)."""
    return int(os.environ.get("HPO_TO_EPOCH", "1"))


def resume_checkpoint():
    """The checkpoint to resume from (HPO_CHECKPOINT), or None."""
    return os.environ.get("HPO_CHECKPOINT") or None


def checkpoint_dir():
    """Where to save checkpoints (HPO_CHECKPOINT_DIR; "." if unset)."""
    return os.environ.get("HPO_CHECKPOINT_DIR") or "."


def data_dir():
    """The worker's --data directory (HPO_DATA; "." if unset)."""
    return os.environ.get("HPO_DATA") or "."


def _number(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy and torch scalars.
        except (TypeError, ValueError):
            raise TypeError(f"hpo_trial.report: {name} is not a number: "
                            f"{value!r}") from None
    return value if math.isfinite(value) else None


def _emit(tag, body):
    sys.stdout.write(tag + " " + json.dumps(body, allow_nan=False) + "\n")
    sys.stdout.flush()


def report(epoch, **metrics):
    """Reports epoch `epoch`'s metrics (NaN and infinity go as null)."""
    body = {"epoch": int(epoch)}
    for name, value in metrics.items():
        body[name] = _number(name, value)
    _emit("hpo-metrics", body)


def checkpoint(epoch, path):
    """Says that `path` holds the state after `epoch` epochs."""
    _emit("hpo-checkpoint", {"epoch": int(epoch), "path": str(path)})


def fail_config(message):
    """Ends the program: the trial cannot work (not retried)."""
    sys.stderr.write(str(message) + "\n")
    sys.exit(EXIT_CONFIG)


def fail_data(message):
    """Ends the program: this worker cannot read the data."""
    sys.stderr.write(str(message) + "\n")
    sys.exit(EXIT_DATA)
