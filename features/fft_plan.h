// FFTW plans for the real FFTs of the mel stage: one per size in the
// process, made under a lock (FFTW's planner is not thread safe), with FFTW's
// wisdom kept in a cache file so that measuring a size is paid once per
// machine, not once per process. Private to features/.
#ifndef HPO_FEATURES_FFT_PLAN_H_
#define HPO_FEATURES_FFT_PLAN_H_

#include <fftw3.h>

#include <string>

namespace hpo::features {

// The process-wide plan of a forward real FFT of `n` points (n / 2 + 1
// complex outputs) for fftw_execute_dft_r2c on arrays from fftw_malloc; kept
// for the life of the process. Thread safe. The first call reads the wisdom
// file (FftWisdomPath()); a size it holds is planned from it at once. A size
// it lacks is measured (FFTW_MEASURE, some 0.1 s for 2048 points) and the
// wisdom file rewritten, or estimated (FFTW_ESTIMATE, instant, a slightly
// slower plan) under FftPlanning::kEstimate (SetFftPlanning in mel.h).
// Throws hpo::Error (runtime) if FFTW cannot plan the size.
fftw_plan RealFftPlan(int n);

// Where the wisdom is cached: $XDG_CACHE_HOME/hpo/fftw-wisdom, else
// $HOME/.cache/hpo/fftw-wisdom; "" when neither variable is set (nothing is
// then read or written).
std::string FftWisdomPath();

}  // namespace hpo::features

#endif  // HPO_FEATURES_FFT_PLAN_H_
