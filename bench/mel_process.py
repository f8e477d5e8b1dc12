#!/usr/bin/python3
"""What a librosa user's one-clip script does, as one process: the peer of
`hpo-prep mel` in bench/mel_process_bench.sh.

    y, sr = librosa.load(WAV, sr=None, mono=True)      # soundfile, float32
    S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048,
                                       hop_length=512, n_mels=128)
    np.save(OUT, librosa.power_to_db(S, ref=np.max))

librosa is not installed here, so its algorithm comes from
bench/mel_numpy_baseline.py (librosa 0.10's code path re-implemented in
numpy) and the decoding from python3-soundfile (libsndfile, which is what
librosa.load uses for WAV). For a file already at the target rate librosa
does not resample, so neither does this.

Usage: /usr/bin/python3 bench/mel_process.py --wav FILE.wav --out FILE.npy
Prints "compute_ms X" (decode to save, in-process: the figure librosa users
quote) on its last line; the caller times the whole process.
"""

import argparse
import os
import sys
import time

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mel_numpy_baseline as librosa_numpy  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--wav", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--n-fft", type=int, default=2048)
    p.add_argument("--hop", type=int, default=512)
    p.add_argument("--n-mels", type=int, default=128)
    a = p.parse_args()
    t0 = time.perf_counter()
    y, sr = sf.read(a.wav, dtype="float32", always_2d=True)
    y = np.ascontiguousarray(y.mean(axis=1, dtype=np.float32))  # librosa.to_mono
    S_db = librosa_numpy.mel_db(y, sr, a.n_fft, a.hop, a.n_mels)
    np.save(a.out, S_db.astype(np.float32))
    print("compute_ms %.3f" % ((time.perf_counter() - t0) * 1e3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
