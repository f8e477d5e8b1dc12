#!/usr/bin/python3
"""librosa-equivalent numpy baseline for hpo's mel stage (features_bench).

What it measures
    The time librosa 0.10 takes for

        S = librosa.feature.melspectrogram(y=y, sr=22050, n_fft=2048,
                                           hop_length=512, n_mels=128)
        S_db = librosa.power_to_db(S, ref=np.max)

    on the 30 s clip that ``build/bench/features_bench --out DIR`` resampled
    to 22.05 kHz mono and wrote as DIR/signal_22050.npy. librosa is not
    installed here (nor scipy), so this file re-implements, with numpy only,
    the code librosa 0.10 runs for those two calls, step by step:

      * ``librosa.stft`` with center=True, pad_mode='constant': a periodic
        Hann window (scipy.signal.get_window('hann', n_fft, fftbins=True)),
        the head and tail frames padded separately, the middle framed as a
        strided view of y, ``np.fft.rfft(window * frames, axis=-2)`` in
        blocks of librosa's MAX_MEM_BLOCK (256 KiB of frames), written into
        a complex64 Fortran-ordered matrix (float32 input gives complex64);
      * ``np.abs(stft) ** 2`` (power 2, float32);
      * ``librosa.filters.mel`` (Slaney scale, norm='slaney', float32),
        recomputed on every call as librosa does;
      * ``np.einsum("...ft,mf->...mt", S, mel_basis, optimize=True)``;
      * ``librosa.power_to_db(S, ref=np.max, amin=1e-10, top_db=80)``.

    The whole sequence runs once to warm up, then --runs times; the median
    (and min, max) is printed in ms per 30 s clip, with a breakdown of the
    median run's stages. Its dB matrix is then compared with hpo's
    (DIR/mel_db.npy, float32 from a double-precision computation): the
    maximum absolute difference over all bins and over the bins above the
    -80 dB floor in both.

Reproduce
    build/bench/features_bench --out /tmp/features_bench
    /usr/bin/python3 bench/mel_numpy_baseline.py --dir /tmp/features_bench

Prints final lines "numpy_mel_ms <median>" and "numpy_mel_no_einsum_ms
<median>" (the same runs less the einsum, whose speed depends on the BLAS
numpy links) for bench/features_bench.sh.
"""

import argparse
import sys
import time

import numpy as np

MAX_MEM_BLOCK = 2**8 * 2**10  # librosa.util.MAX_MEM_BLOCK


# --- librosa.filters / librosa.core.convert -----------------------------


def hann_periodic(n):
    """scipy.signal.get_window('hann', n, fftbins=True), float64."""
    # scipy computes a symmetric window of n + 1 points and drops the last.
    m = n + 1
    k = np.arange(0, m)
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * k / (m - 1))
    return w[:-1]


def hz_to_mel(frequencies):
    """librosa.hz_to_mel, Slaney scale."""
    frequencies = np.asanyarray(frequencies)
    f_min = 0.0
    f_sp = 200.0 / 3
    mels = (frequencies - f_min) / f_sp
    min_log_hz = 1000.0
    min_log_mel = (min_log_hz - f_min) / f_sp
    logstep = np.log(6.4) / 27.0
    if frequencies.ndim:
        log_t = frequencies >= min_log_hz
        mels[log_t] = (min_log_mel
                       + np.log(frequencies[log_t] / min_log_hz) / logstep)
    elif frequencies >= min_log_hz:
        mels = min_log_mel + np.log(frequencies / min_log_hz) / logstep
    return mels


def mel_to_hz(mels):
    """librosa.mel_to_hz, Slaney scale."""
    mels = np.asanyarray(mels)
    f_min = 0.0
    f_sp = 200.0 / 3
    freqs = f_min + f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = (min_log_hz - f_min) / f_sp
    logstep = np.log(6.4) / 27.0
    if mels.ndim:
        log_t = mels >= min_log_mel
        freqs[log_t] = min_log_hz * np.exp(
            logstep * (mels[log_t] - min_log_mel))
    elif mels >= min_log_mel:
        freqs = min_log_hz * np.exp(logstep * (mels - min_log_mel))
    return freqs


def mel_frequencies(n_mels, fmin, fmax):
    """librosa.mel_frequencies (Slaney)."""
    min_mel = hz_to_mel(fmin)
    max_mel = hz_to_mel(fmax)
    mels = np.linspace(min_mel, max_mel, n_mels)
    return mel_to_hz(mels)


def mel_filter_bank(sr, n_fft, n_mels, fmin=0.0, fmax=None, dtype=np.float32):
    """librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, norm='slaney')."""
    if fmax is None:
        fmax = float(sr) / 2
    weights = np.zeros((n_mels, int(1 + n_fft // 2)), dtype=dtype)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]
    return weights


# --- librosa.util.frame / librosa.stft ----------------------------------


def frame(x, frame_length, hop_length):
    """librosa.util.frame(x, axis=-1): a (frame_length, n_frames) view."""
    xw = np.lib.stride_tricks.sliding_window_view(x, frame_length, axis=-1)
    xw = np.moveaxis(xw, -1, -2)  # (frame_length, n) as librosa's axis=-1.
    return xw[..., ::hop_length]


def stft(y, n_fft, hop_length):
    """librosa.stft(y, n_fft, hop_length, window='hann', center=True,
    pad_mode='constant') for a 1-d float32 y, as librosa 0.10 computes it."""
    fft_window = hann_periodic(n_fft).reshape(n_fft, 1)  # float64
    start_k = int(np.ceil(n_fft // 2 / hop_length))
    tail_k = (y.shape[-1] + n_fft // 2 - n_fft) // hop_length + 1
    if tail_k <= start_k:
        start = 0
        extra = 0
        y = np.pad(y, (n_fft // 2, n_fft // 2), mode="constant")
    else:
        start = start_k * hop_length - n_fft // 2
        y_pre = np.pad(
            y[: (start_k - 1) * hop_length - n_fft // 2 + n_fft + 1],
            (n_fft // 2, 0),
            mode="constant",
        )
        y_frames_pre = frame(y_pre, n_fft, hop_length)[..., :start_k]
        extra = y_frames_pre.shape[-1]
        if tail_k * hop_length - n_fft // 2 + n_fft <= y.shape[-1] + n_fft // 2:
            y_post = np.pad(
                y[tail_k * hop_length - n_fft // 2 :],
                (0, n_fft // 2),
                mode="constant",
            )
            y_frames_post = frame(y_post, n_fft, hop_length)
            extra += y_frames_post.shape[-1]
        else:
            y_frames_post = np.empty_like(y_frames_pre, shape=(n_fft, 0))
    dtype = np.complex64 if y.dtype == np.float32 else np.complex128
    y_frames = frame(y[start:], n_fft, hop_length)
    shape = [1 + n_fft // 2, y_frames.shape[-1] + extra]
    stft_matrix = np.zeros(shape, dtype=dtype, order="F")
    if extra > 0:
        off_start = y_frames_pre.shape[-1]
        stft_matrix[..., :off_start] = np.fft.rfft(
            fft_window * y_frames_pre, axis=-2
        )
        off_end = y_frames_post.shape[-1]
        if off_end > 0:
            stft_matrix[..., -off_end:] = np.fft.rfft(
                fft_window * y_frames_post, axis=-2
            )
    else:
        off_start = 0
    n_columns = int(
        MAX_MEM_BLOCK // (np.prod(y_frames.shape[:-1]) * y_frames.itemsize)
    )
    n_columns = max(n_columns, 1)
    for bl_s in range(0, y_frames.shape[-1], n_columns):
        bl_t = min(bl_s + n_columns, y_frames.shape[-1])
        stft_matrix[..., bl_s + off_start : bl_t + off_start] = np.fft.rfft(
            fft_window * y_frames[..., bl_s:bl_t], axis=-2
        )
    return stft_matrix


# --- librosa.feature.melspectrogram / librosa.power_to_db ---------------


def power_to_db(S, amin=1e-10, top_db=80.0):
    """librosa.power_to_db(S, ref=np.max, amin, top_db)."""
    magnitude = S
    ref_value = np.max(magnitude)
    log_spec = 10.0 * np.log10(np.maximum(amin, magnitude))
    log_spec -= 10.0 * np.log10(np.maximum(amin, ref_value))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def mel_db(y, sr, n_fft, hop, n_mels, marks=None):
    """melspectrogram + power_to_db; appends (stage, time) to `marks`."""
    t = time.perf_counter
    t0 = t()
    D = stft(y, n_fft, hop)
    t1 = t()
    S = np.abs(D) ** 2.0
    t2 = t()
    mel_basis = mel_filter_bank(sr, n_fft, n_mels)
    t3 = t()
    M = np.einsum("...ft,mf->...mt", S, mel_basis, optimize=True)
    t4 = t()
    out = power_to_db(M)
    t5 = t()
    if marks is not None:
        marks.append(
            {
                "stft (frame, window, rfft)": t1 - t0,
                "abs ** 2": t2 - t1,
                "filters.mel": t3 - t2,
                "einsum (mel projection)": t4 - t3,
                "power_to_db": t5 - t4,
            }
        )
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", default="/tmp/features_bench",
                   help="features_bench --out directory")
    p.add_argument("--runs", type=int, default=20, help="timed runs (median)")
    p.add_argument("--sr", type=int, default=22050)
    p.add_argument("--n-fft", type=int, default=2048)
    p.add_argument("--hop", type=int, default=512)
    p.add_argument("--n-mels", type=int, default=128)
    a = p.parse_args()
    if a.runs < 1:
        p.error("--runs must be >= 1")

    y = np.load(a.dir + "/signal_22050.npy")
    ours = np.load(a.dir + "/mel_db.npy")
    if y.dtype != np.float32 or y.ndim != 1:
        sys.exit("%s/signal_22050.npy: expected float32 [n], found %s %s"
                 % (a.dir, y.dtype, y.shape))

    print("mel_numpy_baseline: librosa 0.10 melspectrogram + power_to_db "
          "re-implemented in numpy %s (BLAS: %s), one process"
          % (np.__version__, blas_name()))
    print("reproduce: /usr/bin/python3 bench/mel_numpy_baseline.py --dir %s "
          "--runs %d" % (a.dir, a.runs))
    print("signal: %d samples at %d Hz (%.2f s), n_fft %d, hop %d, %d mels"
          % (y.size, a.sr, y.size / a.sr, a.n_fft, a.hop, a.n_mels))

    ref = mel_db(y, a.sr, a.n_fft, a.hop, a.n_mels)  # Warm-up, and checked.
    times = []
    marks = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        mel_db(y, a.sr, a.n_fft, a.hop, a.n_mels, marks)
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1e3
    median = float(np.median(ms))
    print("\nmel + power_to_db, %d frames: median %.2f ms (min %.2f, max %.2f) "
          "over %d runs" % (ref.shape[1], median, ms.min(), ms.max(), a.runs))
    # The same runs without the einsum, whose speed is that of the BLAS numpy
    # links (the reference BLAS on a plain Debian numpy, OpenBLAS in pip's
    # wheels).
    no_blas = np.array([
        sum(v for k, v in m.items() if not k.startswith("einsum"))
        for m in marks
    ]) * 1e3
    mid = int(np.argsort(ms)[len(ms) // 2])
    print("stages of the median run:")
    for stage, seconds in marks[mid].items():
        print("  %-28s %8.2f ms" % (stage, seconds * 1e3))

    print("  all but the einsum: median %.2f ms" % float(np.median(no_blas)))
    print("\ncheck against hpo (%s/mel_db.npy):" % a.dir)
    if ours.shape != ref.shape:
        sys.exit("shape mismatch: hpo %s, numpy %s" % (ours.shape, ref.shape))
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    floor = -80.0 + 1e-3
    above = (ours > floor) & (ref > floor)
    print("  shape %s; bins above the -80 dB floor in both: %d of %d"
          % (ref.shape, int(above.sum()), ref.size))
    print("  max |dB difference|: %.6f dB above the floor, %.6f dB over all "
          "bins" % (diff[above].max(), diff.max()))
    print("  mean |dB difference| above the floor: %.2e dB"
          % diff[above].mean())
    ok = diff[above].max() < 0.01
    print("  agreement within 0.01 dB: %s" % ("yes" if ok else "NO"))
    print("\nnumpy_mel_ms %.3f" % median)
    print("numpy_mel_no_einsum_ms %.3f" % float(np.median(no_blas)))
    return 0 if ok else 1


def blas_name():
    try:
        info = np.__config__.get_info("blas_opt_info")
        return ",".join(info.get("libraries", [])) or "unknown"
    except Exception:  # Config API differs between numpy versions.
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
