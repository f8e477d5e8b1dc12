#include "features/fft_plan.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>

#include "common/error.h"
#include "features/mel.h"

namespace hpo::features {
namespace {

// Everything FFTW's planner touches, behind one lock.
struct Planner {
  std::mutex mutex;
  std::map<int, fftw_plan> plans;
  bool wisdom_read = false;
  FftPlanning planning = FftPlanning::kMeasure;
};

Planner& ThePlanner() {
  static Planner* planner = new Planner();  // Plans outlive static teardown.
  return *planner;
}

// Writes FFTW's accumulated wisdom (what was read plus what was measured)
// to `path` through a file of this process's own and a rename, so that
// concurrent writers (several hpo-prep runs) never leave a torn file: the
// last rename wins, and a size another process measured meanwhile is at
// worst measured again later. A cache that cannot be written is no error.
void WriteWisdom(const std::string& path) {
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(),
                                      ignored);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  if (fftw_export_wisdom_to_filename(tmp.c_str()) != 0) {
    std::filesystem::rename(tmp, path, ignored);
  }
  std::filesystem::remove(tmp, ignored);
}

}  // namespace

void SetFftPlanning(FftPlanning planning) {
  Planner& p = ThePlanner();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.planning = planning;
}

std::string FftWisdomPath() {
  const char* cache = std::getenv("XDG_CACHE_HOME");
  if (cache != nullptr && *cache != '\0') {
    return std::string(cache) + "/hpo/fftw-wisdom";
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    return std::string(home) + "/.cache/hpo/fftw-wisdom";
  }
  return "";
}

fftw_plan RealFftPlan(int n) {
  Planner& p = ThePlanner();
  std::lock_guard<std::mutex> lock(p.mutex);
  auto it = p.plans.find(n);
  if (it != p.plans.end()) return it->second;
  const std::string wisdom = FftWisdomPath();
  if (!p.wisdom_read) {
    p.wisdom_read = true;
    // A missing, unreadable or foreign (another FFTW's) file adds nothing.
    if (!wisdom.empty()) fftw_import_wisdom_from_filename(wisdom.c_str());
  }
  double* in = fftw_alloc_real(n);
  fftw_complex* out = fftw_alloc_complex(n / 2 + 1);
  // Planning from wisdom never touches the arrays; measuring overwrites them
  // (they are scratch here: plans are executed on other arrays).
  fftw_plan plan =
      fftw_plan_dft_r2c_1d(n, in, out, FFTW_MEASURE | FFTW_WISDOM_ONLY);
  if (plan == nullptr && p.planning == FftPlanning::kEstimate) {
    plan = fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE);
  } else if (plan == nullptr) {
    plan = fftw_plan_dft_r2c_1d(n, in, out, FFTW_MEASURE);
    if (plan != nullptr && !wisdom.empty()) WriteWisdom(wisdom);
  }
  fftw_free(in);
  fftw_free(out);
  if (plan == nullptr) {
    throw RuntimeFailure("FFTW cannot plan a real FFT of size " +
                         std::to_string(n));
  }
  p.plans.emplace(n, plan);
  return plan;
}

}  // namespace hpo::features
