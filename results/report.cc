// The report generator: a study snapshot to one HTML page with inline SVG.
//
// The page is written top to bottom into one string. Each section is a
// function of a Context (the snapshot plus what is derived from it once:
// the study file's search space and algorithm, the ranking, the learning
// curves). Plots share a small toolkit: linear and log scales, "nice" ticks,
// axes with grid lines. Colours and line styles live in the page's CSS, so
// the SVG carries only classes and geometry.
#include "results/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/int_math.h"
#include "common/leaderboard.h"
#include "common/study_spec.h"
#include "common/trial_state.h"
#include "search/hyperband_math.h"

namespace hpo {

using nlohmann::json;

ReportData ReadReportData(Store& store, const StudyRow& study) {
  ReportData data;
  data.study = study;
  data.trials = store.Trials(study.id);
  data.metrics = store.Metrics(study.id, -1);
  data.attempts = store.Attempts(study.id);
  data.events = store.Events(study.id);
  data.evaluations = store.Evaluations(study.id);
  return data;
}

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------
// Text

// `text` made safe for HTML text and attribute values, and so for SVG inside
// HTML: markup characters become entities, and the control characters that
// XML forbids become U+FFFD.
std::string Escape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += "\xEF\xBF\xBD";
        } else {
          out += c;
        }
    }
  }
  return out;
}

// `text` cut to at most `max_chars` characters (UTF-8 code points), with an
// ellipsis when cut.
std::string Shorten(const std::string& text, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars - 1) {
      size_t rest = 0;
      for (size_t j = i; j < text.size(); ++j) {
        rest += (static_cast<unsigned char>(text[j]) & 0xC0) != 0x80;
      }
      if (rest > 1) return text.substr(0, i) + "\xE2\x80\xA6";
      return text;
    }
    ++chars;
  }
  return text;
}

std::string Printf(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// A value for people: 4 significant digits.
std::string Number(double value, int digits = 4) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
  return buffer;
}

std::string Number(const std::optional<double>& value) {
  return value ? Number(*value) : "\xE2\x80\x94";  // An em dash.
}

// A coordinate in SVG user units.
std::string Coord(double value) {
  if (!std::isfinite(value)) value = 0;
  std::string text = Printf("%.1f", value);
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0) {
    text.resize(text.size() - 2);
  }
  return text == "-0" ? "0" : text;
}

// h:mm:ss, as the coordinator prints elapsed time.
std::string HoursMinutesSeconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long long s = std::llround(seconds);
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600,
                s / 60 % 60, s % 60);
  return buffer;
}

// A time offset for an axis: m:ss below an hour, h:mm:ss above.
std::string ShortClock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long long s = std::llround(seconds);
  char buffer[48];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", s / 3600,
                  s / 60 % 60, s % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", s / 60, s % 60);
  }
  return buffer;
}

std::string UtcTime(double unix_seconds) {
  if (!std::isfinite(unix_seconds) || unix_seconds <= 0) return "unknown";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "unknown";
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

// A parameter value as a short label: strings bare, numbers with 4
// significant digits, anything else as compact JSON.
std::string ValueLabel(const json& value) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_number_float()) {
    text = Number(value.get<double>());
  } else {
    text = value.dump();
  }
  return Shorten(text, 40);
}

// A name usable in an id attribute: letters, digits, '-' and '_'.
std::string IdPart(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out.empty() ? "_" : out;
}

std::string Plural(int64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// ---------------------------------------------------------------------------
// The study file, as far as the report needs it

enum class AxisKind { kLinear, kLog, kCategory };

struct ParamInfo {
  std::string name;
  std::string type;  // As the study file says: "loguniform", "choice"...
  AxisKind kind = AxisKind::kLinear;
  std::optional<double> low, high;  // The search space's range.
  std::vector<json> categories;     // kCategory: the study's values, then
                                    // any other value a trial holds.
};

struct SpecInfo {
  bool valid = false;   // The stored study file validates.
  std::string problem;  // Why not, when not.
  std::string description;
  std::string model;  // trainer.model, when it is a string.
  AlgorithmType algorithm = AlgorithmType::kRandom;
  bool algorithm_known = false;  // StudyRow.algorithm names an algorithm.
  bool shape_known = false;      // min/max epochs and eta are usable.
  AlgorithmSpec numbers;
  int64_t max_trials = 0;
  std::vector<ParamInfo> params;
};

std::optional<AlgorithmType> AlgorithmFromName(const std::string& name) {
  for (AlgorithmType type :
       {AlgorithmType::kRandom, AlgorithmType::kGrid,
        AlgorithmType::kSuccessiveHalving, AlgorithmType::kHyperband,
        AlgorithmType::kAsha, AlgorithmType::kMedian}) {
    if (ToString(type) == name) return type;
  }
  return std::nullopt;
}

bool HasRungs(AlgorithmType type) {
  return type == AlgorithmType::kSuccessiveHalving ||
         type == AlgorithmType::kHyperband || type == AlgorithmType::kAsha;
}

int IntAt(const json& object, const char* key, int fallback) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  const json& value = object[key];
  if (!value.is_number_integer()) return fallback;
  const int64_t v = value.get<int64_t>();
  return v < 0 || v > 1000000 ? fallback : static_cast<int>(v);
}

std::optional<double> NumberAt(const json& object, const char* key) {
  if (!object.is_object() || !object.contains(key)) return std::nullopt;
  const json& value = object[key];
  if (!value.is_number()) return std::nullopt;
  return value.get<double>();
}

// What a study file that does not validate (written by another version of
// hpo, say) still tells: read leniently, with the parser's defaults.
void ReadSpecLeniently(const json& raw, SpecInfo& info) {
  if (raw.contains("description") && raw["description"].is_string()) {
    info.description = raw["description"].get<std::string>();
  }
  const json algorithm = raw.value("algorithm", json::object());
  AlgorithmSpec& a = info.numbers;
  a.min_epochs = std::max(1, IntAt(algorithm, "min_epochs", 1));
  a.max_epochs = std::max(1, IntAt(algorithm, "max_epochs", 1));
  a.eta = IntAt(algorithm, "eta", 3);
  a.iterations = std::max(1, IntAt(algorithm, "iterations", 1));
  a.brackets = std::max(1, IntAt(algorithm, "brackets", 1));
  info.shape_known = a.eta >= 2 && a.max_epochs >= a.min_epochs;
  const int s_max =
      info.shape_known ? HyperbandSMax(a.min_epochs, a.max_epochs, a.eta) : 0;
  a.n = IntAt(algorithm, "n", 0);
  if (a.n <= 0) a.n = IntPow(a.eta, s_max);
  const json budget = raw.value("budget", json::object());
  info.max_trials = IntAt(budget, "max_trials", 0);
  const json space = raw.value("search_space", json::object());
  if (!space.is_object()) return;
  for (const auto& [name, param] : space.items()) {
    ParamInfo p;
    p.name = name;
    if (!param.is_object()) {
      p.kind = AxisKind::kCategory;
      info.params.push_back(std::move(p));
      continue;
    }
    p.type = param.value("type", json("")).is_string()
                 ? param.value("type", std::string())
                 : "";
    p.low = NumberAt(param, "low");
    p.high = NumberAt(param, "high");
    if (p.type == "choice") {
      p.kind = AxisKind::kCategory;
      const json values = param.value("values", json::array());
      if (values.is_array()) p.categories.assign(values.begin(), values.end());
    } else if (p.type == "loguniform" ||
               (p.type == "int" && param.value("log", json(false)) == true)) {
      p.kind = AxisKind::kLog;
    }
    info.params.push_back(std::move(p));
  }
}

// Adds what the trials hold beyond the study file: parameters it does not
// name, and choice values it does not list.
void AddTrialParams(const std::vector<TrialRow>& trials, SpecInfo& info) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < info.params.size(); ++i) {
    index[info.params[i].name] = i;
  }
  // Parameters only the trials name: numeric if every value is a number.
  std::vector<std::string> extra;
  std::map<std::string, bool> numeric;
  for (const TrialRow& trial : trials) {
    if (!trial.params.is_object()) continue;
    for (const auto& [name, value] : trial.params.items()) {
      if (index.count(name)) continue;
      if (!numeric.count(name)) {
        extra.push_back(name);
        numeric[name] = true;
      }
      numeric[name] = numeric[name] && value.is_number();
    }
  }
  std::sort(extra.begin(), extra.end());
  for (const std::string& name : extra) {
    ParamInfo p;
    p.name = name;
    p.type = "not in the study file";
    p.kind = numeric[name] ? AxisKind::kLinear : AxisKind::kCategory;
    index[name] = info.params.size();
    info.params.push_back(std::move(p));
  }
  for (const TrialRow& trial : trials) {
    if (!trial.params.is_object()) continue;
    for (const auto& [name, value] : trial.params.items()) {
      ParamInfo& p = info.params[index.at(name)];
      if (p.kind == AxisKind::kLog && value.is_number() &&
          !(value.get<double>() > 0)) {
        p.kind = AxisKind::kLinear;  // A log axis cannot show it.
      }
      if (p.kind != AxisKind::kCategory && !value.is_number()) {
        p.kind = AxisKind::kCategory;  // Mixed values: show them as labels.
      }
      if (p.kind == AxisKind::kCategory &&
          std::find(p.categories.begin(), p.categories.end(), value) ==
              p.categories.end()) {
        p.categories.push_back(value);
      }
    }
  }
}

SpecInfo ReadSpec(const ReportData& data) {
  SpecInfo info;
  std::optional<AlgorithmType> algorithm =
      AlgorithmFromName(data.study.algorithm);
  info.algorithm_known = algorithm.has_value();
  info.algorithm = algorithm.value_or(AlgorithmType::kRandom);
  const json raw = json::parse(data.study.spec, nullptr,
                               /*allow_exceptions=*/false);
  if (!raw.is_object()) {
    info.problem = "the study file stored in the database is not a JSON object";
  } else {
    try {
      StudySpec spec = ParseStudy(raw, data.study.name);
      info.valid = true;
      info.description = spec.description;
      info.numbers = spec.algorithm;
      info.shape_known = true;
      info.max_trials = spec.budget.max_trials;
      for (const ParamSpec& param : spec.search_space.params) {
        ParamInfo p;
        p.name = param.name;
        p.type = ToString(param.type);
        if (param.type == ParamType::kChoice) {
          p.kind = AxisKind::kCategory;
          p.categories = param.values;
        } else {
          p.kind = param.is_log() ? AxisKind::kLog : AxisKind::kLinear;
          p.low = param.low;
          p.high = param.high;
        }
        info.params.push_back(std::move(p));
      }
    } catch (const std::exception& e) {
      const std::string what = e.what();
      info.problem = what.substr(0, what.find('\n'));
      info.params.clear();
      ReadSpecLeniently(raw, info);
    }
    const json trainer = raw.value("trainer", json::object());
    if (trainer.is_object() && trainer.contains("model") &&
        trainer["model"].is_string()) {
      info.model = trainer["model"].get<std::string>();
    }
  }
  AddTrialParams(data.trials, info);
  return info;
}

// ---------------------------------------------------------------------------
// Derived data

using Ranked = RankedTrial;

// One trial's objective per epoch; NaN where it is missing or not finite.
using Curve = std::vector<std::pair<int, double>>;

double Objective(const MetricRow& row, const std::string& metric) {
  if (row.objective) {
    return std::isfinite(*row.objective) ? *row.objective : kNaN;
  }
  if (row.metrics.is_object() && row.metrics.contains(metric) &&
      row.metrics[metric].is_number()) {
    const double v = row.metrics[metric].get<double>();
    return std::isfinite(v) ? v : kNaN;
  }
  return kNaN;
}

struct Context {
  const ReportData& data;
  const ReportOptions& options;
  SpecInfo spec;
  bool maximize = true;
  std::vector<Ranked> ranked;
  const TrialRow* best = nullptr;
  std::map<int64_t, const TrialRow*> trials;  // By number.
  std::map<int64_t, Curve> curves;            // Trials with metrics.
  double latest = 0;    // The latest time recorded in the data.
  double open_end = 0;  // Where attempts without an end are drawn to.

  Context(const ReportData& d, const ReportOptions& o) : data(d), options(o) {}
};

Context MakeContext(const ReportData& data, const ReportOptions& options) {
  Context c(data, options);
  c.spec = ReadSpec(data);
  c.maximize = data.study.mode != "min";
  c.ranked = RankTrials(data.trials, c.maximize);
  if (!c.ranked.empty()) c.best = c.ranked.front().trial;
  for (const TrialRow& trial : data.trials) c.trials[trial.number] = &trial;
  for (const MetricRow& row : data.metrics) {
    c.curves[row.trial].emplace_back(row.epoch,
                                     Objective(row, data.study.metric));
  }
  for (auto& [trial, curve] : c.curves) {
    std::stable_sort(
        curve.begin(), curve.end(),
        [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  auto later = [&c](double t) {
    if (std::isfinite(t)) c.latest = std::max(c.latest, t);
  };
  later(data.study.created_at);
  later(data.study.updated_at);
  for (const TrialRow& trial : data.trials) later(trial.updated_at);
  for (const MetricRow& row : data.metrics) later(row.recorded_at);
  for (const AttemptRow& a : data.attempts) {
    later(a.started_at);
    if (a.ended_at) later(*a.ended_at);
  }
  c.open_end = c.latest;
  if (data.study.state == "running" && options.now > c.latest) {
    c.open_end = options.now;
  }
  return c;
}

// ---------------------------------------------------------------------------
// Plot toolkit

// Maps a domain [lo, hi] (log10 of it when `log`) onto pixels [from, to].
struct Scale {
  double lo = 0, hi = 1;
  double from = 0, to = 1;
  bool log = false;

  double operator()(double v) const {
    const double a = log ? std::log10(lo) : lo;
    const double b = log ? std::log10(hi) : hi;
    const double x = log ? std::log10(v) : v;
    if (!(b > a)) return (from + to) / 2;
    return from + (x - a) / (b - a) * (to - from);
  }
};

// Makes [lo, hi] a usable, non-empty domain: a single value gets room around
// it; `pad` widens a linear domain by that fraction on each side.
void Widen(double& lo, double& hi, bool log, double pad) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
    lo = log ? 1 : 0;
    hi = log ? 10 : 1;
  }
  if (log) {
    if (!(lo > 0)) lo = hi > 0 ? hi / 10 : 1;
    if (!(hi > lo)) {
      lo /= 2;
      hi *= 2;
    }
    return;
  }
  if (!(hi > lo)) {
    const double d = lo == 0 ? 1 : std::abs(lo) * 0.05;
    lo -= d;
    hi += d;
    return;
  }
  const double d = (hi - lo) * pad;
  lo -= d;
  hi += d;
}

struct Tick {
  double value;
  std::string label;
};

// About `target` ticks at 1, 2 or 5 times a power of ten within [lo, hi];
// `integer` keeps the step at least 1.
std::vector<Tick> NiceTicks(double lo, double hi, int target,
                            bool integer = false) {
  std::vector<Tick> ticks;
  const double span = hi - lo;
  if (!(span > 0) || !std::isfinite(span)) {
    if (std::isfinite(lo)) ticks.push_back({lo, Number(lo)});
    return ticks;
  }
  const double raw = span / std::max(1, target);
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  const double normalized = raw / magnitude;
  double step = normalized < 1.5 ? 1
                : normalized < 3 ? 2
                : normalized < 7 ? 5
                                 : 10;
  step *= magnitude;
  if (integer) step = std::max(1.0, std::round(step));
  const double first = std::ceil(lo / step - 1e-9);
  const double last = std::floor(hi / step + 1e-9);
  for (double n = first; n <= last && ticks.size() < 50; ++n) {
    double v = n * step;
    if (std::abs(v) < step * 1e-9) v = 0;
    ticks.push_back({v, Number(v, 6)});
  }
  return ticks;
}

std::string LogLabel(double v) {
  const double exponent = std::round(std::log10(v));
  if (std::abs(v - std::pow(10, exponent)) < v * 1e-9 &&
      std::abs(exponent) >= 4) {
    return "1e" + std::to_string(static_cast<int>(exponent));
  }
  return Number(v, 3);
}

// Powers of ten within [lo, hi] (lo > 0), with 2x and 5x between them when
// the domain spans less than two decades; at most about 8 labels.
std::vector<Tick> LogTicks(double lo, double hi) {
  std::vector<Tick> ticks;
  const int first = static_cast<int>(std::floor(std::log10(lo)));
  const int last = static_cast<int>(std::ceil(std::log10(hi)));
  const bool fine = last - first <= 2;
  const int every = std::max(1, (last - first + 7) / 8);
  for (int e = first; e <= last; ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1 && !fine) continue;
      if (m == 1 && (e - first) % every != 0) continue;
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) {
        ticks.push_back({v, LogLabel(v)});
      }
    }
  }
  if (ticks.empty()) {
    ticks.push_back({lo, Number(lo, 3)});
    ticks.push_back({hi, Number(hi, 3)});
  }
  return ticks;
}

// Time ticks (seconds) at steps people read: 1 s ... 1 day.
std::vector<Tick> TimeTicks(double span, int target) {
  static const double kSteps[] = {0.1,  0.2,  0.5,  1,     2,     5,     10,
                                  15,   30,   60,   120,   300,   600,   900,
                                  1800, 3600, 7200, 10800, 21600, 43200, 86400};
  double step = kSteps[sizeof kSteps / sizeof kSteps[0] - 1];
  for (double s : kSteps) {
    if (span / s <= target) {
      step = s;
      break;
    }
  }
  std::vector<Tick> ticks;
  for (double t = 0; t <= span + 1e-9 && ticks.size() < 60; t += step) {
    ticks.push_back({t, step < 1 ? Number(t, 3) + " s" : ShortClock(t)});
  }
  return ticks;
}

// Appends the opening tag of a plot.
void OpenSvg(std::string& out, const std::string& id, const std::string& kind,
             double width, double height, const std::string& label,
             const std::string& extra_attributes = "") {
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot " + kind +
         "\" id=\"" + id + "\" viewBox=\"0 0 " + Coord(width) + " " +
         Coord(height) + "\" width=\"" + Coord(width) + "\" height=\"" +
         Coord(height) + "\" role=\"img\" aria-label=\"" + Escape(label) +
         "\"" + extra_attributes + ">\n";
}

void Text(std::string& out, double x, double y, const std::string& text,
          const std::string& cls, const std::string& anchor = "start",
          const std::string& extra = "") {
  out += "<text x=\"" + Coord(x) + "\" y=\"" + Coord(y) + "\" class=\"" + cls +
         "\"";
  if (anchor != "start") out += " text-anchor=\"" + anchor + "\"";
  out += extra + ">" + Escape(text) + "</text>\n";
}

void Line(std::string& out, double x1, double y1, double x2, double y2,
          const std::string& cls) {
  out += "<line x1=\"" + Coord(x1) + "\" y1=\"" + Coord(y1) + "\" x2=\"" +
         Coord(x2) + "\" y2=\"" + Coord(y2) + "\" class=\"" + cls + "\"/>\n";
}

// A horizontal axis at `y`, with grid lines up to `grid_top` (none when it
// equals `y`) and a title below.
void XAxis(std::string& out, const Scale& x, double y, double grid_top,
           const std::vector<Tick>& ticks, const std::string& title) {
  out += "<g class=\"axis x\">\n";
  for (const Tick& tick : ticks) {
    const double px = x(tick.value);
    if (grid_top < y) Line(out, px, grid_top, px, y, "grid");
    Line(out, px, y, px, y + 4, "tick");
    Text(out, px, y + 16, tick.label, "tick-label", "middle");
  }
  Line(out, std::min(x.from, x.to), y, std::max(x.from, x.to), y, "axis-line");
  if (!title.empty()) {
    Text(out, (x.from + x.to) / 2, y + 34, title, "axis-title", "middle");
  }
  out += "</g>\n";
}

// A vertical axis at `x`, with grid lines across to `grid_right` (none when
// it equals `x`) and a title turned along it.
void YAxis(std::string& out, const Scale& y, double x, double grid_right,
           const std::vector<Tick>& ticks, const std::string& title) {
  out += "<g class=\"axis y\">\n";
  for (const Tick& tick : ticks) {
    const double py = y(tick.value);
    if (grid_right > x) Line(out, x, py, grid_right, py, "grid");
    Line(out, x - 4, py, x, py, "tick");
    Text(out, x - 7, py + 4, tick.label, "tick-label", "end");
  }
  Line(out, x, std::min(y.from, y.to), x, std::max(y.from, y.to), "axis-line");
  if (!title.empty()) {
    const double cy = (y.from + y.to) / 2;
    const double cx = x - 48;
    Text(out, cx, cy, title, "axis-title", "middle",
         " transform=\"rotate(-90 " + Coord(cx) + " " + Coord(cy) + ")\"");
  }
  out += "</g>\n";
}

void Note(std::string& out, const std::string& text) {
  out += "<p class=\"note\">" + Escape(text) + "</p>\n";
}

// Viridis at t in [0, 1] (0 dark purple, 1 yellow), as #rrggbb.
std::string Viridis(double t) {
  static const double kStops[][3] = {{68, 1, 84},
                                     {59, 82, 139},
                                     {33, 145, 140},
                                     {94, 201, 98},
                                     {253, 231, 37}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char buffer[8];
  int rgb[3];
  for (int k = 0; k < 3; ++k) {
    rgb[k] = static_cast<int>(
        std::lround(kStops[i][k] + (kStops[i + 1][k] - kStops[i][k]) * f));
  }
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buffer;
}

// A deterministic offset in [-0.5, 0.5) for trial `number` (spreads points
// that share a category).
double Jitter(int64_t number) {
  uint64_t h = static_cast<uint64_t>(number) * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 29;
  return static_cast<double>(h % 1000) / 1000.0 - 0.5;
}

const char* StateName(TrialState state) { return ToString(state); }

// The range of the trials' values (the shared objective axis).
std::pair<double, double> ValueRange(const Context& c) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const Ranked& r : c.ranked) {
    if (!std::isfinite(*r.trial->value)) continue;
    lo = std::min(lo, *r.trial->value);
    hi = std::max(hi, *r.trial->value);
  }
  return {lo, hi};
}

// ---------------------------------------------------------------------------
// Sections

constexpr char kCss[] = R"css(
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #222;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  "Liberation Sans", Arial, sans-serif; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 20px 40px; }
header.summary { background: #fff; border: 1px solid #dde1e6; border-radius: 6px;
  padding: 14px 18px; margin: 16px 0; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 8px; }
h3 { font-size: 15px; margin: 14px 0 6px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px;
  padding: 14px 18px; margin: 16px 0; overflow-x: auto; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px;
  margin: 10px 0 0; }
dl.facts dt { color: #666; }
dl.facts dd { margin: 0; }
nav { font-size: 13px; margin: 8px 0 0; }
nav a { margin-right: 12px; color: #1f5fa8; text-decoration: none; }
p.note { color: #555; background: #f7f7f9; border-left: 3px solid #c9ced6;
  padding: 6px 10px; margin: 6px 0; }
p.caption { color: #555; font-size: 13px; margin: 4px 0 8px; }
p.warning { color: #7a4b00; background: #fff7e6; border-left: 3px solid #f0a020;
  padding: 6px 10px; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eceef1; text-align: left;
  vertical-align: top; }
th { background: #f4f5f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.params { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-size: 12px; }
tr.best td { background: #fff3e6; }
span.state { padding: 0 6px; border-radius: 8px; font-size: 12px; color: #fff; }
span.state.complete { background: #2ca02c; } span.state.pruned { background: #8c8c8c; }
span.state.failed { background: #d62728; } span.state.running { background: #1f77b4; }
span.state.paused { background: #17becf; } span.state.queued { background: #bcbd22; }
span.state.lost { background: #8c564b; }
div.grid { display: flex; flex-wrap: wrap; gap: 10px; }
div.grid figure { margin: 0; }
figcaption { font-size: 12px; color: #555; max-width: 300px; }
svg.plot { display: block; max-width: 100%; height: auto; background: #fff; }
svg.plot text { font-size: 11px; fill: #333; }
svg.plot .axis-title { font-size: 12px; fill: #222; }
svg.plot .plot-title { font-size: 12px; font-weight: 600; fill: #222; }
svg.plot .grid { stroke: #e8e8e8; stroke-width: 1; }
svg.plot .axis-line, svg.plot .tick { stroke: #555; stroke-width: 1; }
.curve { fill: none; stroke: #1f77b4; stroke-width: 1.3; stroke-opacity: .8;
  stroke-linejoin: round; stroke-linecap: round; }
.curve.pruned { stroke: #7f7f7f; stroke-opacity: .28; }
.curve.failed { stroke: #d62728; stroke-opacity: .7; stroke-dasharray: 4 3; }
.curve.running, .curve.paused, .curve.queued, .curve.lost { stroke: #17becf; }
.curve.best { stroke: #ff7f0e; stroke-width: 3.2; stroke-opacity: 1;
  stroke-dasharray: none; }
.best-marker { fill: #ff7f0e; stroke: #fff; stroke-width: 1.5; }
.point { stroke: #fff; stroke-width: .6; fill: #1f77b4; fill-opacity: .85; }
.point.pruned { fill: #8c8c8c; fill-opacity: .55; }
.point.failed { fill: #d62728; }
.point.running, .point.paused, .point.queued, .point.lost { fill: #17becf; }
.point.best { fill: #ff7f0e; fill-opacity: 1; stroke: #222; stroke-width: 1; }
.pc-line { fill: none; stroke-width: 1.2; stroke-opacity: .75; }
.pc-line.best { stroke-width: 3.2; stroke-opacity: 1; }
.pc-axis { stroke: #444; stroke-width: 1.2; }
.rung-entered { fill: #c6dbef; }
.rung-promoted { fill: #3182bd; }
.rung-planned { stroke: #222; stroke-width: 1.5; }
.bracket-title { font-weight: 600; }
.cell { stroke: #fff; stroke-width: 1; }
.cell-count { font-size: 10px; }
.lane { fill: #f3f4f6; }
.attempt { stroke: #fff; stroke-width: .6; fill: #7f7f7f; }
.attempt.done { fill: #2ca02c; } .attempt.pruned { fill: #9e9e9e; }
.attempt.failed { fill: #d62728; } .attempt.lost { fill: #8c564b; }
.attempt.interrupted { fill: #bcbd22; } .attempt.running { fill: #1f77b4; }
.attempt.open { fill-opacity: .55; stroke: #1f77b4; stroke-width: 1;
  stroke-dasharray: 3 2; }
.swatch-line { stroke-width: 3; }
)css";

std::string StateBadge(TrialState state) {
  const char* name = StateName(state);
  return std::string("<span class=\"state ") + name + "\">" + name + "</span>";
}

std::string ParamsText(const json& params) {
  if (!params.is_object() || params.empty()) return "";
  std::string text;
  for (const auto& [name, value] : params.items()) {
    if (!text.empty()) text += ", ";
    text += name + "=" + ValueLabel(value);
  }
  return text;
}

std::string AlgorithmSummary(const Context& c) {
  const AlgorithmSpec& a = c.spec.numbers;
  const std::string name = c.data.study.algorithm;
  if (!c.spec.shape_known || !c.spec.algorithm_known) return name;
  const std::string eta = "eta " + std::to_string(a.eta) + ", ";
  const std::string range = std::to_string(a.min_epochs) + "\xE2\x80\x93" +
                            std::to_string(a.max_epochs) + " epochs";
  switch (c.spec.algorithm) {
    case AlgorithmType::kSuccessiveHalving:
      return name + " (n " + std::to_string(a.n) + ", " + eta + range + ")";
    case AlgorithmType::kHyperband:
      return name + " (" + eta + range +
             (a.iterations > 1
                  ? ", " + std::to_string(a.iterations) + " iterations"
                  : "") +
             ")";
    case AlgorithmType::kAsha:
      return name + " (" + eta + range +
             (a.brackets > 1 ? ", " + std::to_string(a.brackets) + " brackets"
                             : "") +
             ")";
    case AlgorithmType::kMedian:
      return name + " (up to " + std::to_string(a.max_epochs) +
             " epochs, warm-up " + std::to_string(a.warmup_epochs) + ")";
    default:
      return name + " (" + std::to_string(a.max_epochs) + " epochs per trial)";
  }
}

void RenderHeader(const Context& c, std::string& out) {
  const StudyRow& s = c.data.study;
  std::map<TrialState, int64_t> counts;
  int64_t epochs = 0;
  for (const TrialRow& trial : c.data.trials) {
    ++counts[trial.state];
    epochs += trial.epochs;
  }
  std::string trials = std::to_string(c.data.trials.size());
  std::string parts;
  for (TrialState state :
       {TrialState::kComplete, TrialState::kPruned, TrialState::kFailed,
        TrialState::kRunning, TrialState::kPaused, TrialState::kQueued,
        TrialState::kLost}) {
    const bool always = state == TrialState::kComplete ||
                        state == TrialState::kPruned ||
                        state == TrialState::kFailed;
    if (!always && counts[state] == 0) continue;
    parts += (parts.empty() ? "" : ", ") + std::to_string(counts[state]) + " " +
             StateName(state);
  }
  double elapsed = s.elapsed_s;
  if (s.state == "running") {
    // The store updates elapsed_s when a session starts and ends.
    const double now = c.options.now > 0 ? c.options.now : c.latest;
    if (now > s.updated_at && s.updated_at > 0) elapsed += now - s.updated_at;
  }
  std::map<std::string, int> workers;
  for (const AttemptRow& a : c.data.attempts) ++workers[a.worker];
  int64_t restarts = 0, failures = 0;
  for (const std::string& event : c.data.events) {
    const json e = json::parse(event, nullptr, false);
    if (!e.is_object()) continue;
    const std::string type = e.value("type", json("")).is_string()
                                 ? e.value("type", std::string())
                                 : "";
    restarts += type == "restart";
    failures += type == "failed";
  }

  out += "<header class=\"summary\" id=\"summary\">\n<h1>Study " +
         Escape(s.name) + "</h1>\n";
  if (!c.spec.description.empty()) {
    out += "<p class=\"caption\">" + Escape(c.spec.description) + "</p>\n";
  }
  out += "<dl class=\"facts\">\n";
  auto fact = [&out](const std::string& name, const std::string& html) {
    out += "<dt>" + Escape(name) + "</dt><dd>" + html + "</dd>\n";
  };
  fact("algorithm", Escape(AlgorithmSummary(c)));
  fact("sampler", Escape(SamplerSummary(s.spec)));
  fact("objective",
       Escape(s.metric) + " (" + (c.maximize ? "max" : "min") + "imize)");
  fact("state", "<span id=\"study-state\">" + Escape(s.state) + "</span>");
  fact("trials", trials + (parts.empty() ? "" : ": " + Escape(parts)));
  if (c.best) {
    std::string best = "trial " + std::to_string(c.best->number) + ": " +
                       Number(*c.best->value) + " at its last epoch";
    if (c.best->best_value && *c.best->best_value != *c.best->value) {
      best += " (" + Number(c.best->best_value) + " at its best)";
    }
    fact("best", Escape(best + ", " + StateName(c.best->state) + " after " +
                        Plural(c.best->epochs, "epoch", "epochs")));
  } else {
    fact("best", "no trial has a value yet");
  }
  fact("epochs trained", std::to_string(epochs));
  fact("elapsed", HoursMinutesSeconds(elapsed) +
                      (s.state == "running" ? " (still running)" : ""));
  fact("created", Escape(UtcTime(s.created_at)));
  fact("data as of", Escape(UtcTime(c.latest)));
  fact("workers",
       workers.empty()
           ? "none yet"
           : Plural(static_cast<int64_t>(workers.size()), "worker", "workers") +
                 ", " +
                 Plural(static_cast<int64_t>(c.data.attempts.size()), "attempt",
                        "attempts"));
  fact("scheduler events", std::to_string(c.data.events.size()) + " (" +
                               Plural(restarts, "restart", "restarts") +
                               " after lost workers, " +
                               Plural(failures, "failure", "failures") + ")");
  out += "</dl>\n";
  if (!c.spec.valid) {
    out +=
        "<p class=\"warning\">The study file stored with this study does "
        "not validate with this version of hpo (" +
        Escape(c.spec.problem) +
        "); the report shows what it could read.</p>\n";
  }
  out +=
      "<nav><a href=\"#s-leaderboard\">leaderboard</a><a "
      "href=\"#s-curves\">learning curves</a><a href=\"#s-rungs\">rungs</a><a "
      "href=\"#s-params\">parameters</a><a href=\"#s-parallel\">parallel "
      "coordinates</a><a href=\"#s-confusion\">confusion matrix</a><a "
      "href=\"#s-timeline\">timeline</a></nav>\n</header>\n";
}

void RenderLeaderboard(const Context& c, std::string& out) {
  out += "<section id=\"s-leaderboard\">\n<h2>Leaderboard</h2>\n";
  const int64_t unranked =
      static_cast<int64_t>(c.data.trials.size() - c.ranked.size());
  if (c.ranked.empty()) {
    Note(out, c.data.trials.empty()
                  ? "No trials yet."
                  : "No trial has reported " + c.data.study.metric +
                        " yet, so none is ranked.");
  } else {
    const size_t rows =
        std::min(c.ranked.size(),
                 static_cast<size_t>(std::max(1, c.options.leaderboard_rows)));
    out += "<p class=\"caption\">Completed trials first, then by " +
           Escape(c.data.study.metric) + " at the last epoch (" +
           (c.maximize ? "highest" : "lowest") +
           " first), as the leaderboard view ranks them";
    if (rows < c.ranked.size()) {
      out += "; the top " + std::to_string(rows) + " of " +
             std::to_string(c.ranked.size());
    }
    if (unranked > 0) {
      out += "; " + Plural(unranked, "trial", "trials") +
             " without a value not ranked";
    }
    out += ".</p>\n";
    out +=
        "<table id=\"leaderboard\">\n<thead><tr><th>rank</th><th>trial</th>"
        "<th>state</th><th>value</th><th>best value</th><th>epochs</th>"
        "<th>params</th></tr></thead>\n<tbody>\n";
    for (size_t i = 0; i < rows; ++i) {
      const TrialRow& t = *c.ranked[i].trial;
      out += std::string("<tr") + (&t == c.best ? " class=\"best\"" : "") +
             "><td class=\"num\">" + std::to_string(c.ranked[i].rank) +
             "</td><td class=\"num\">" + std::to_string(t.number) +
             "</td><td>" + StateBadge(t.state) + "</td><td class=\"num\">" +
             Escape(Number(t.value)) + "</td><td class=\"num\">" +
             Escape(Number(t.best_value)) + "</td><td class=\"num\">" +
             std::to_string(t.epochs) + "</td><td class=\"params\">" +
             Escape(ParamsText(t.params)) + "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n";
  }
  // Failed trials, with their errors: they are data too.
  std::vector<const TrialRow*> failed;
  for (const TrialRow& t : c.data.trials) {
    if (t.state == TrialState::kFailed) failed.push_back(&t);
  }
  if (!failed.empty()) {
    out +=
        "<h3>Failed trials</h3>\n<table id=\"failed\">\n<thead><tr>"
        "<th>trial</th><th>epochs</th><th>attempts</th><th>worker</th>"
        "<th>error</th></tr></thead>\n<tbody>\n";
    const size_t rows = std::min<size_t>(failed.size(), 50);
    for (size_t i = 0; i < rows; ++i) {
      const TrialRow& t = *failed[i];
      out += "<tr><td class=\"num\">" + std::to_string(t.number) +
             "</td><td class=\"num\">" + std::to_string(t.epochs) +
             "</td><td class=\"num\">" + std::to_string(t.attempts) +
             "</td><td>" + Escape(t.worker) + "</td><td>" +
             Escape(Shorten(t.error, 300)) + "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n";
    if (rows < failed.size()) {
      Note(out, "and " + std::to_string(failed.size() - rows) +
                    " more (hpo-query trials --state failed lists them all)");
    }
  }
  out += "</section>\n";
}

// The SVG path data of `curve`: one sub-path per run of finite
// values; a lone point becomes a zero-length segment (drawn as a dot by the
// round line cap).
std::string CurvePath(const Curve& curve, const Scale& x, const Scale& y) {
  std::string d;
  size_t run = 0;
  for (const auto& [epoch, value] : curve) {
    if (!std::isfinite(value)) {
      if (run == 1) d += "h0";
      run = 0;
      continue;
    }
    d += (run == 0 ? "M" : "L") + Coord(x(epoch)) + " " + Coord(y(value));
    ++run;
  }
  if (run == 1) d += "h0";
  return d;
}

void RenderCurves(const Context& c, std::string& out) {
  out += "<section id=\"s-curves\">\n<h2>Learning curves</h2>\n";
  const std::string& metric = c.data.study.metric;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int max_epoch = 1;
  std::vector<int64_t> drawn;
  for (const auto& [trial, curve] : c.curves) {
    bool any = false;
    for (const auto& [epoch, value] : curve) {
      if (!std::isfinite(value)) continue;
      any = true;
      lo = std::min(lo, value);
      hi = std::max(hi, value);
      max_epoch = std::max(max_epoch, epoch);
    }
    if (any) drawn.push_back(trial);
  }
  if (drawn.empty()) {
    Note(out, c.data.metrics.empty()
                  ? "No trial has reported an epoch yet."
                  : "No trial has reported a finite " + metric + " yet.");
    out += "</section>\n";
    return;
  }
  const double width = 900, height = 430;
  const double left = 70, right = 150, top = 14, bottom = 52;
  Widen(lo, hi, false, 0.04);
  Scale x{0, static_cast<double>(max_epoch), left, width - right, false};
  Scale y{lo, hi, height - bottom, top, false};
  const int64_t best = c.best ? c.best->number : -1;
  out += "<p class=\"caption\">" + Escape(metric) +
         " after each epoch of every trial (" +
         Plural(static_cast<int64_t>(drawn.size()), "trial", "trials") +
         "); pruned trials are drawn faintly, failed ones dashed";
  if (best >= 0) {
    out += ", the best (trial " + std::to_string(best) + ") in orange";
  }
  out += ".</p>\n";
  OpenSvg(out, "curves", "curves", width, height,
          "learning curves: " + metric + " against epoch",
          " data-trials=\"" + std::to_string(drawn.size()) + "\"");
  XAxis(out, x, height - bottom, top,
        NiceTicks(0, max_epoch, std::min(max_epoch, 10), true), "epoch");
  YAxis(out, y, left, width - right, NiceTicks(lo, hi, 6), metric);
  // Faint ones first, the best last, so the highlight stays on top.
  auto layer = [&c, best](int64_t trial) {
    if (trial == best) return 3;
    auto it = c.trials.find(trial);
    if (it == c.trials.end()) return 2;
    if (it->second->state == TrialState::kPruned) return 0;
    if (it->second->state == TrialState::kFailed) return 1;
    return 2;
  };
  std::stable_sort(drawn.begin(), drawn.end(), [&layer](int64_t a, int64_t b) {
    return layer(a) < layer(b);
  });
  out += "<g class=\"curves\">\n";
  for (int64_t trial : drawn) {
    const Curve& curve = c.curves.at(trial);
    auto it = c.trials.find(trial);
    const std::string state =
        it == c.trials.end() ? "running" : StateName(it->second->state);
    double last = kNaN;
    int last_epoch = 0;
    for (const auto& [epoch, value] : curve) {
      if (std::isfinite(value)) {
        last = value;
        last_epoch = epoch;
      }
    }
    out += "<path class=\"curve " + state + (trial == best ? " best" : "") +
           "\" data-trial=\"" + std::to_string(trial) + "\" d=\"" +
           CurvePath(curve, x, y) + "\"><title>trial " + std::to_string(trial) +
           " (" + state + "): " + Escape(metric) + " " + Number(last) +
           " at epoch " + std::to_string(last_epoch) + "</title></path>\n";
    if (trial == best) {
      out += "<circle class=\"best-marker\" cx=\"" + Coord(x(last_epoch)) +
             "\" cy=\"" + Coord(y(last)) + "\" r=\"4.5\"/>\n";
    }
  }
  out += "</g>\n";
  // Legend.
  const double lx = width - right + 16;
  double ly = top + 10;
  out += "<g class=\"legend\">\n";
  const std::pair<const char*, const char*> kLegend[] = {
      {"complete", "complete"},
      {"running", "running / paused"},
      {"pruned", "pruned"},
      {"failed", "failed"},
      {"best", "best trial"}};
  for (const auto& [cls, label] : kLegend) {
    out += "<path class=\"swatch-line curve " + std::string(cls) + "\" d=\"M" +
           Coord(lx) + " " + Coord(ly) + "h22\"/>\n";
    Text(out, lx + 28, ly + 4, label, "legend-label");
    ly += 18;
  }
  out += "</g>\n</svg>\n</section>\n";
}

// What the trials of one rung did.
struct RungStat {
  int epochs = 0;        // Epochs a trial has at the rung's end (0: unknown).
  int64_t planned = -1;  // Trials the schedule puts in it (-1: open-ended).
  int64_t entered = 0;   // Trials that trained in it.
  int64_t promoted = 0;  // Of those: continued into the next rung.
  int64_t complete = 0;  // Ended here: complete, pruned, failed, or still
  int64_t pruned = 0;    // in progress (running, paused, queued, lost).
  int64_t failed = 0;
  int64_t in_progress = 0;
};

struct BracketStat {
  int index = 0;
  int s = -1;  // Halvings (Hyperband's s); -1 when unknown.
  std::vector<RungStat> rungs;
};

// The schedule of successive halving, Hyperband or ASHA as the study file
// sets it (with budget.max_trials cutting brackets as the coordinator
// does), then what the trials did in each rung.
std::vector<BracketStat> RungStats(const Context& c) {
  std::vector<BracketStat> brackets;
  const AlgorithmSpec& a = c.spec.numbers;
  if (c.spec.shape_known) {
    const int s_max = HyperbandSMax(a.min_epochs, a.max_epochs, a.eta);
    // Synchronous brackets: planned sizes, cut by the trial budget as the
    // coordinator cuts them (every rung listed, an emptied one with 0).
    auto add_planned = [&](const BracketPlan& full, int64_t& left) {
      BracketStat b;
      b.index = static_cast<int>(brackets.size());
      b.s = full.s;
      const int64_t started = std::min(full.rungs.front().trials, left);
      left -= started;
      const BracketPlan cut = CutBracket(full, started, a.eta);
      for (size_t i = 0; i < full.rungs.size(); ++i) {
        RungStat r;
        r.epochs = full.rungs[i].epochs;
        r.planned = i < cut.rungs.size() ? cut.rungs[i].trials : 0;
        b.rungs.push_back(r);
      }
      brackets.push_back(std::move(b));
    };
    int64_t left = c.spec.max_trials > 0 ? c.spec.max_trials : INT64_MAX;
    if (c.spec.algorithm == AlgorithmType::kSuccessiveHalving) {
      add_planned(
          SuccessiveHalvingBracket(a.n, a.min_epochs, a.max_epochs, a.eta),
          left);
    } else if (c.spec.algorithm == AlgorithmType::kHyperband) {
      for (int iteration = 0; iteration < std::max(1, a.iterations);
           ++iteration) {
        for (const BracketPlan& bracket :
             HyperbandBrackets(a.min_epochs, a.max_epochs, a.eta)) {
          add_planned(bracket, left);
        }
      }
    } else if (c.spec.algorithm == AlgorithmType::kAsha) {
      for (int s = 0; s < std::max(1, a.brackets); ++s) {
        BracketStat b;
        b.index = s;
        b.s = s;
        for (int k = 0; k <= s_max - s; ++k) {
          RungStat r;
          r.epochs = RungEpochs(a.max_epochs, a.eta, s_max - s, k);
          b.rungs.push_back(r);
        }
        brackets.push_back(std::move(b));
      }
    }
  }
  for (const TrialRow& t : c.data.trials) {
    if (t.bracket < 0 || t.rung < 0 || t.bracket > 10000 || t.rung > 1000) {
      continue;
    }
    while (static_cast<int>(brackets.size()) <= t.bracket) {
      BracketStat b;
      b.index = static_cast<int>(brackets.size());
      brackets.push_back(std::move(b));
    }
    BracketStat& b = brackets[static_cast<size_t>(t.bracket)];
    if (static_cast<int>(b.rungs.size()) <= t.rung) {
      b.rungs.resize(static_cast<size_t>(t.rung) + 1);
    }
    for (int i = 0; i <= t.rung; ++i) {
      RungStat& r = b.rungs[static_cast<size_t>(i)];
      ++r.entered;
      if (i < t.rung) ++r.promoted;
    }
    RungStat& here = b.rungs[static_cast<size_t>(t.rung)];
    switch (t.state) {
      case TrialState::kComplete:
        ++here.complete;
        break;
      case TrialState::kPruned:
        ++here.pruned;
        break;
      case TrialState::kFailed:
        ++here.failed;
        break;
      default:
        ++here.in_progress;
    }
  }
  // Brackets the budget leaves out, and that no trial reached, go.
  std::vector<BracketStat> kept;
  for (BracketStat& b : brackets) {
    bool any = false;
    for (const RungStat& r : b.rungs)
      any = any || r.entered > 0 || r.planned > 0;
    if (any || c.spec.algorithm == AlgorithmType::kAsha) {
      kept.push_back(std::move(b));
    }
  }
  return kept;
}

void RenderRungs(const Context& c, std::string& out) {
  out += "<section id=\"s-rungs\">\n<h2>Rungs</h2>\n";
  const AlgorithmType type = c.spec.algorithm;
  if (!c.spec.algorithm_known || !HasRungs(type)) {
    const std::string name = c.data.study.algorithm;
    if (type == AlgorithmType::kMedian && c.spec.algorithm_known) {
      int64_t pruned = 0, epochs = 0;
      for (const TrialRow& t : c.data.trials) {
        if (t.state != TrialState::kPruned) continue;
        ++pruned;
        epochs += t.epochs;
      }
      Note(out,
           "Median stopping has no rungs: each trial trains until the median "
           "rule stops it (pruned) or it reaches max_epochs. " +
               Plural(pruned, "trial was", "trials were") + " stopped" +
               (pruned > 0
                    ? ", after " +
                          Number(static_cast<double>(epochs) / pruned, 3) +
                          " epochs on average"
                    : "") +
               ".");
    } else {
      Note(out, "The " + name +
                    " search has no rungs: every trial trains to max_epochs "
                    "(successive halving, Hyperband and ASHA promote trials "
                    "through rungs).");
    }
    out += "</section>\n";
    return;
  }
  std::vector<BracketStat> brackets = RungStats(c);
  if (brackets.empty()) {
    Note(out, "No trial has started yet.");
    out += "</section>\n";
    return;
  }
  const bool synchronous = type != AlgorithmType::kAsha;
  out +=
      "<p class=\"caption\">Trials that entered each rung (light) and were "
      "promoted from it into the next (dark)";
  if (synchronous) {
    out += "; the black mark is the number the schedule plans";
  } else {
    out +=
        "; ASHA promotes asynchronously, so trials paused in a rung may "
        "still be promoted";
  }
  out += ".</p>\n";
  int64_t most = 1;
  size_t rows = 0;
  for (const BracketStat& b : brackets) {
    rows += 1 + b.rungs.size();
    for (const RungStat& r : b.rungs) {
      most = std::max({most, r.entered, r.planned});
    }
  }
  const double width = 900, row = 20, top = 8;
  const double label_width = 170, bar_left = label_width + 10;
  const double bar_width = width - bar_left - 250;
  const double height = top + static_cast<double>(rows) * row + 8;
  OpenSvg(out, "rungs", "rungs", width, height,
          "trials entering and promoted from each rung",
          " data-brackets=\"" + std::to_string(brackets.size()) + "\"");
  double y = top;
  for (const BracketStat& b : brackets) {
    std::string title = "bracket " + std::to_string(b.index);
    if (b.s >= 0 && type != AlgorithmType::kSuccessiveHalving) {
      title += type == AlgorithmType::kAsha
                   ? " (early-stopping rate " + std::to_string(b.s) + ")"
                   : " (s = " + std::to_string(b.s) + ")";
    }
    Text(out, 4, y + 14, title, "bracket-title");
    y += row;
    out += "<g class=\"bracket\" data-bracket=\"" + std::to_string(b.index) +
           "\">\n";
    for (size_t i = 0; i < b.rungs.size(); ++i) {
      const RungStat& r = b.rungs[i];
      Text(
          out, 18, y + 14,
          "rung " + std::to_string(i) + " \xC2\xB7 " +
              (r.epochs > 0 ? Plural(r.epochs, "epoch", "epochs") : "? epochs"),
          "rung-label");
      auto w = [&](int64_t n) {
        return bar_width * static_cast<double>(n) / static_cast<double>(most);
      };
      out += "<rect class=\"rung-entered\" x=\"" + Coord(bar_left) + "\" y=\"" +
             Coord(y + 3) + "\" width=\"" + Coord(w(r.entered)) +
             "\" height=\"14\" data-count=\"" + std::to_string(r.entered) +
             "\"><title>" + std::to_string(r.entered) +
             " entered</title></rect>\n";
      out += "<rect class=\"rung-promoted\" x=\"" + Coord(bar_left) +
             "\" y=\"" + Coord(y + 3) + "\" width=\"" + Coord(w(r.promoted)) +
             "\" height=\"14\" data-count=\"" + std::to_string(r.promoted) +
             "\"><title>" + std::to_string(r.promoted) +
             " promoted</title></rect>\n";
      if (r.planned >= 0) {
        const double px = bar_left + w(r.planned);
        Line(out, px, y + 1, px, y + 19, "rung-planned");
      }
      std::string text = std::to_string(r.entered) + " entered";
      if (i + 1 < b.rungs.size()) {
        text += ", " + std::to_string(r.promoted) + " promoted";
      }
      if (r.planned >= 0) text += " (plan " + std::to_string(r.planned) + ")";
      Text(out, bar_left + bar_width + 10, y + 14, text, "rung-count");
      y += row;
    }
    out += "</g>\n";
  }
  out += "</svg>\n";
  out +=
      "<table id=\"rungs-table\">\n<thead><tr><th>bracket</th><th>rung</th>"
      "<th>epochs</th><th>planned</th><th>entered</th><th>promoted</th>"
      "<th>complete</th><th>pruned</th><th>failed</th><th>in progress</th>"
      "</tr></thead>\n<tbody>\n";
  for (const BracketStat& b : brackets) {
    for (size_t i = 0; i < b.rungs.size(); ++i) {
      const RungStat& r = b.rungs[i];
      auto cell = [](int64_t n) {
        return "<td class=\"num\">" + std::to_string(n) + "</td>";
      };
      out += "<tr><td class=\"num\">" + std::to_string(b.index) +
             "</td><td class=\"num\">" + std::to_string(i) + "</td>" +
             (r.epochs > 0 ? cell(r.epochs) : "<td class=\"num\">?</td>") +
             (r.planned >= 0 ? cell(r.planned) : "<td class=\"num\"></td>") +
             cell(r.entered) + cell(r.promoted) + cell(r.complete) +
             cell(r.pruned) + cell(r.failed) + cell(r.in_progress) + "</tr>\n";
    }
  }
  out += "</tbody>\n</table>\n</section>\n";
}

// A parameter's axis: its kind, domain and ticks, from the study file's
// range (or categories) widened by the values `seen`.
struct ParamAxis {
  AxisKind kind = AxisKind::kLinear;
  double lo = 0, hi = 1;
  std::vector<json> categories;

  // Position in [0, 1] of `value` (jitter in [-0.5, 0.5) spreads points of
  // one category); nullopt when the axis cannot show it.
  std::optional<double> Position(const json& value, double jitter = 0) const {
    if (kind == AxisKind::kCategory) {
      auto it = std::find(categories.begin(), categories.end(), value);
      if (it == categories.end()) return std::nullopt;
      const double n = static_cast<double>(categories.size());
      return (static_cast<double>(it - categories.begin()) + 0.5 +
              jitter * 0.6) /
             n;
    }
    if (!value.is_number()) return std::nullopt;
    const double v = value.get<double>();
    if (!std::isfinite(v) || (kind == AxisKind::kLog && !(v > 0))) {
      return std::nullopt;
    }
    Scale s{lo, hi, 0, 1, kind == AxisKind::kLog};
    return s(v);
  }

  // Ticks with positions in [0, 1].
  std::vector<Tick> Ticks(int target) const {
    std::vector<Tick> ticks;
    if (kind == AxisKind::kCategory) {
      const double n = static_cast<double>(categories.size());
      for (size_t i = 0; i < categories.size(); ++i) {
        ticks.push_back({(static_cast<double>(i) + 0.5) / n,
                         Shorten(ValueLabel(categories[i]), 14)});
      }
      return ticks;
    }
    Scale s{lo, hi, 0, 1, kind == AxisKind::kLog};
    for (Tick& t : kind == AxisKind::kLog ? LogTicks(lo, hi)
                                          : NiceTicks(lo, hi, target)) {
      ticks.push_back({s(t.value), t.label});
    }
    return ticks;
  }
};

ParamAxis MakeParamAxis(const ParamInfo& p,
                        const std::vector<const TrialRow*>& trials) {
  ParamAxis axis;
  axis.kind = p.kind;
  axis.categories = p.categories;
  if (p.kind == AxisKind::kCategory) return axis;
  const bool log = p.kind == AxisKind::kLog;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto take = [&](double v) {
    if (!std::isfinite(v) || (log && !(v > 0))) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  if (p.low) take(*p.low);
  if (p.high) take(*p.high);
  for (const TrialRow* t : trials) {
    if (t->params.is_object() && t->params.contains(p.name) &&
        t->params[p.name].is_number()) {
      take(t->params[p.name].get<double>());
    }
  }
  Widen(lo, hi, log, 0.03);
  axis.lo = lo;
  axis.hi = hi;
  return axis;
}

// The trials with a value, worst first (so the best is drawn on top).
std::vector<const TrialRow*> WorstFirst(const Context& c) {
  std::vector<const TrialRow*> trials;
  for (auto it = c.ranked.rbegin(); it != c.ranked.rend(); ++it) {
    if (std::isfinite(*it->trial->value)) trials.push_back(it->trial);
  }
  return trials;
}

void RenderParams(const Context& c, std::string& out) {
  out +=
      "<section id=\"s-params\">\n<h2>Objective against each "
      "hyperparameter</h2>\n";
  const std::string& metric = c.data.study.metric;
  if (c.spec.params.empty()) {
    Note(out, "The study searches no hyperparameters.");
    out += "</section>\n";
    return;
  }
  std::vector<const TrialRow*> trials = WorstFirst(c);
  if (trials.empty()) {
    Note(out, "No trial has a finite " + metric + " yet.");
    out += "</section>\n";
    return;
  }
  out += "<p class=\"caption\">" + Escape(metric) +
         " at each trial's last epoch against its parameters; log-scaled "
         "parameters on log axes, choices as categories.</p>\n<div "
         "class=\"grid\">\n";
  auto [vlo, vhi] = ValueRange(c);
  Widen(vlo, vhi, false, 0.05);
  const double width = 300, height = 236;
  const double left = 62, right = 12, top = 24, bottom = 46;
  std::map<std::string, int> ids;
  for (const ParamInfo& p : c.spec.params) {
    const ParamAxis axis = MakeParamAxis(p, trials);
    std::string id = "param-" + IdPart(p.name);
    if (ids[id]++ > 0) id += "-" + std::to_string(ids[id]);
    const std::string scale = p.kind == AxisKind::kLog        ? "log"
                              : p.kind == AxisKind::kCategory ? "category"
                                                              : "linear";
    out += "<figure>\n";
    OpenSvg(
        out, id, "scatter", width, height, metric + " against " + p.name,
        " data-param=\"" + Escape(p.name) + "\" data-scale=\"" + scale + "\"");
    Text(out, 8, 14,
         Shorten(p.name + (p.type.empty() ? "" : " (" + p.type + ")"), 42),
         "plot-title");
    Scale x{0, 1, left, width - right, false};
    Scale y{vlo, vhi, height - bottom, top, false};
    std::vector<Tick> xticks = axis.Ticks(4);
    XAxis(out, x, height - bottom, top, xticks,
          p.kind == AxisKind::kLog ? p.name + " (log scale)" : p.name);
    YAxis(out, y, left, width - right, NiceTicks(vlo, vhi, 5), metric);
    int64_t shown = 0;
    std::string points;
    for (const TrialRow* t : trials) {
      if (!t->params.is_object() || !t->params.contains(p.name)) continue;
      std::optional<double> pos =
          axis.Position(t->params[p.name], Jitter(t->number));
      if (!pos) continue;
      ++shown;
      const bool best = t == c.best;
      points += "<circle class=\"point " + std::string(StateName(t->state)) +
                (best ? " best" : "") + "\" cx=\"" + Coord(x(*pos)) +
                "\" cy=\"" + Coord(y(*t->value)) + "\" r=\"" +
                (best ? "5" : "3") + "\"><title>trial " +
                std::to_string(t->number) + ": " + Escape(p.name) + " = " +
                Escape(ValueLabel(t->params[p.name])) + ", " + Escape(metric) +
                " " + Number(*t->value) + "</title></circle>\n";
    }
    out += "<g class=\"points\" data-points=\"" + std::to_string(shown) +
           "\">\n" + points + "</g>\n</svg>\n";
    const int64_t missing = static_cast<int64_t>(trials.size()) - shown;
    if (missing > 0) {
      out += "<figcaption>" + Plural(missing, "trial", "trials") +
             " without this parameter (conditional) not shown</figcaption>\n";
    }
    out += "</figure>\n";
  }
  out += "</div>\n</section>\n";
}

void RenderParallel(const Context& c, std::string& out) {
  out += "<section id=\"s-parallel\">\n<h2>Parallel coordinates</h2>\n";
  const std::string& metric = c.data.study.metric;
  std::vector<const TrialRow*> trials = WorstFirst(c);
  if (trials.empty() || c.spec.params.empty()) {
    Note(out, trials.empty() ? "No trial has a finite " + metric + " yet."
                             : "The study searches no hyperparameters.");
    out += "</section>\n";
    return;
  }
  std::vector<const ParamInfo*> params;
  std::vector<ParamAxis> axes;
  for (const ParamInfo& p : c.spec.params) {
    params.push_back(&p);
    axes.push_back(MakeParamAxis(p, trials));
  }
  auto [vlo, vhi] = ValueRange(c);
  double olo = vlo, ohi = vhi;
  Widen(olo, ohi, false, 0.02);
  const size_t n = axes.size() + 1;
  const double left = 70, right = 70, top = 34, bottom = 70;
  const double width = std::max(700.0, 120.0 * static_cast<double>(n));
  const double height = 380;
  const double step = (width - left - right) / static_cast<double>(n - 1);
  auto axis_x = [&](size_t i) { return left + step * static_cast<double>(i); };
  Scale unit{0, 1, height - bottom, top, false};
  Scale objective{olo, ohi, height - bottom, top, false};
  out +=
      "<p class=\"caption\">One line per trial with a value, through its "
      "parameters and " +
      Escape(metric) +
      "; colour from worst (purple) to best (yellow), the best trial "
      "thickest. A line breaks where a trial lacks a (conditional) "
      "parameter.</p>\n";
  OpenSvg(out, "parallel", "parallel", width, height,
          "parallel coordinates of parameters and " + metric,
          " data-axes=\"" + std::to_string(n) + "\"");
  out += "<g class=\"lines\">\n";
  for (const TrialRow* t : trials) {
    double goodness = vhi > vlo ? (*t->value - vlo) / (vhi - vlo) : 1;
    if (!c.maximize) goodness = 1 - goodness;
    std::string d;
    bool pen = false;
    for (size_t i = 0; i < n; ++i) {
      std::optional<double> pos;
      double py = 0;
      if (i + 1 == n) {
        py = objective(*t->value);
        pos = 0;
      } else if (t->params.is_object() && t->params.contains(params[i]->name)) {
        pos = axes[i].Position(t->params[params[i]->name],
                               Jitter(t->number) * 0.5);
        if (pos) py = unit(*pos);
      }
      if (!pos) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + Coord(axis_x(i)) + " " + Coord(py);
      pen = true;
    }
    out += "<path class=\"pc-line" + std::string(t == c.best ? " best" : "") +
           "\" data-trial=\"" + std::to_string(t->number) + "\" stroke=\"" +
           Viridis(goodness) + "\" d=\"" + d + "\"><title>trial " +
           std::to_string(t->number) + ": " + Escape(metric) + " " +
           Number(*t->value) + "; " + Escape(ParamsText(t->params)) +
           "</title></path>\n";
  }
  out += "</g>\n";
  for (size_t i = 0; i < n; ++i) {
    const double x = axis_x(i);
    out += "<g class=\"pc-axis-group\">\n";
    Line(out, x, top, x, height - bottom, "pc-axis");
    const bool last = i + 1 == n;
    const std::string name = last ? metric : params[i]->name;
    Text(out, x, top - 18, Shorten(name, 18), "axis-title", "middle");
    if (!last && axes[i].kind == AxisKind::kLog) {
      Text(out, x, top - 6, "log", "tick-label", "middle");
    }
    std::vector<Tick> ticks;
    if (last) {
      for (const Tick& t : NiceTicks(olo, ohi, 5)) {
        ticks.push_back({objective(t.value), t.label});
      }
    } else {
      for (const Tick& t : axes[i].Ticks(4)) {
        ticks.push_back({unit(t.value), t.label});
      }
    }
    for (const Tick& t : ticks) {
      Line(out, x - 3, t.value, x + 3, t.value, "tick");
      Text(out, x - 6, t.value + 4, t.label, "tick-label", "end");
    }
    out += "</g>\n";
  }
  // Colour legend.
  const double lx = left + 110, ly = height - 30, lw = 200;
  out += "<defs><linearGradient id=\"parallel-gradient\">";
  for (int i = 0; i <= 4; ++i) {
    out += "<stop offset=\"" + std::to_string(i * 25) + "%\" stop-color=\"" +
           Viridis(i / 4.0) + "\"/>";
  }
  out += "</linearGradient></defs>\n";
  out += "<rect class=\"legend-bar\" x=\"" + Coord(lx) + "\" y=\"" + Coord(ly) +
         "\" width=\"" + Coord(lw) +
         "\" height=\"10\" fill=\"url(#parallel-gradient)\"/>\n";
  Text(out, lx - 8, ly + 9, "worst " + Number(c.maximize ? vlo : vhi),
       "tick-label", "end");
  Text(out, lx + lw + 6, ly + 9, "best " + Number(c.maximize ? vhi : vlo),
       "tick-label");
  out += "</svg>\n</section>\n";
}

// The evaluation to show: the best trial's (test split first), else the
// latest one recorded.
const EvaluationRow* ChooseEvaluation(const Context& c) {
  const EvaluationRow* chosen = nullptr;
  auto score = [&c](const EvaluationRow& e) {
    int s = 0;
    if (c.best && e.trial == c.best->number) s += 4;
    if (e.state == "done") s += 2;
    if (e.split == "test") s += 1;
    return s;
  };
  for (const EvaluationRow& e : c.data.evaluations) {
    if (!chosen || score(e) > score(*chosen) ||
        (score(e) == score(*chosen) && e.recorded_at > chosen->recorded_at)) {
      chosen = &e;
    }
  }
  return chosen;
}

void RenderConfusion(const Context& c, std::string& out) {
  out +=
      "<section id=\"s-confusion\">\n<h2>Confusion matrix of the best "
      "trial</h2>\n";
  const EvaluationRow* e = ChooseEvaluation(c);
  if (!e) {
    std::string why;
    if (c.spec.model == "synthetic") {
      why =
          "No evaluation: the synthetic trainer has no data to evaluate "
          "on. With a real trainer the best trial is evaluated on the test "
          "split when the study ends.";
    } else if (c.data.study.state == "running") {
      why =
          "Not evaluated yet: the best trial is evaluated on the test "
          "split when the study ends.";
    } else {
      why =
          "No evaluation recorded for this study: the best trial is "
          "evaluated on the test split when a study ends, by workers that "
          "support it (databases from before schema version 2 have none).";
    }
    Note(out, why);
    out += "</section>\n";
    return;
  }
  std::string facts = "Trial " + std::to_string(e->trial);
  if (e->epoch > 0) facts += " after " + Plural(e->epoch, "epoch", "epochs");
  facts += ", " + e->split + " split";
  if (c.best && e->trial != c.best->number) {
    facts += " (the best trial now is trial " + std::to_string(c.best->number) +
             ", which has no evaluation)";
  }
  if (e->state != "done") {
    Note(out, facts + ": the evaluation failed" +
                  (e->error.empty() ? "." : ": " + e->error));
    out += "</section>\n";
    return;
  }
  facts += ": accuracy " + Number(e->accuracy) + " (segments)";
  if (e->track_accuracy) {
    facts += ", " + Number(e->track_accuracy) + " (tracks)";
  }
  if (e->loss) facts += ", loss " + Number(e->loss);
  if (e->samples > 0) {
    facts += ", " + Plural(e->samples, "segment", "segments");
    if (e->tracks > 0) facts += " of " + Plural(e->tracks, "track", "tracks");
  }
  if (!e->worker.empty()) facts += ", on " + e->worker;
  out += "<p class=\"caption\">" + Escape(facts) +
         ". Rows are the true class, columns the prediction; shade is the "
         "share of the row.</p>\n";
  size_t n = std::max(e->classes.size(), e->confusion.size());
  for (const auto& row : e->confusion) n = std::max(n, row.size());
  if (n == 0) {
    Note(out, "The evaluation recorded no confusion matrix.");
    out += "</section>\n";
    return;
  }
  std::vector<std::string> names;
  size_t longest = 0;
  for (size_t i = 0; i < n; ++i) {
    names.push_back(Shorten(
        i < e->classes.size() ? e->classes[i] : "class " + std::to_string(i),
        22));
    longest = std::max(longest, names.back().size());
  }
  auto count = [e](size_t i, size_t j) -> int64_t {
    if (i >= e->confusion.size() || j >= e->confusion[i].size()) return 0;
    return std::max<int64_t>(0, e->confusion[i][j]);
  };
  const double cell = std::clamp(520.0 / static_cast<double>(n), 10.0, 46.0);
  const double label = std::min(150.0, 12 + 6.2 * static_cast<double>(longest));
  const double left = label + 26, top = 10;
  const double grid = cell * static_cast<double>(n);
  const double bottom = label * 0.75 + 34;
  const double width = left + grid + 20, height = top + grid + bottom;
  OpenSvg(out, "confusion", "confusion", width, height,
          "confusion matrix of trial " + std::to_string(e->trial),
          " data-classes=\"" + std::to_string(n) + "\"");
  for (size_t i = 0; i < n; ++i) {
    int64_t total = 0;
    for (size_t j = 0; j < n; ++j) total += count(i, j);
    const double y = top + cell * static_cast<double>(i);
    Text(out, left - 6, y + cell / 2 + 4, names[i], "class-label", "end");
    for (size_t j = 0; j < n; ++j) {
      const int64_t k = count(i, j);
      const double share =
          total > 0 ? static_cast<double>(k) / static_cast<double>(total) : 0;
      // White to a strong blue by the share of the row.
      const int r = static_cast<int>(std::lround(255 - share * (255 - 8)));
      const int g = static_cast<int>(std::lround(255 - share * (255 - 81)));
      const int b = static_cast<int>(std::lround(255 - share * (255 - 156)));
      char fill[8];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", r, g, b);
      const double x = left + cell * static_cast<double>(j);
      out += "<rect class=\"cell" + std::string(i == j ? " diagonal" : "") +
             "\" x=\"" + Coord(x) + "\" y=\"" + Coord(y) + "\" width=\"" +
             Coord(cell) + "\" height=\"" + Coord(cell) + "\" fill=\"" + fill +
             "\" data-count=\"" + std::to_string(k) + "\"><title>true " +
             Escape(i < e->classes.size() ? e->classes[i] : names[i]) +
             ", predicted " +
             Escape(j < e->classes.size() ? e->classes[j] : names[j]) + ": " +
             std::to_string(k) + " (" + Number(share * 100, 3) +
             "% of the row)</title></rect>\n";
      const std::string digits = std::to_string(k);
      if (cell >= 20 && static_cast<double>(digits.size()) * 6.5 < cell - 2) {
        Text(out, x + cell / 2, y + cell / 2 + 3.5, digits, "cell-count",
             "middle", share > 0.5 ? " style=\"fill:#fff\"" : "");
      }
    }
  }
  // Predicted-class labels, turned, under the columns.
  for (size_t j = 0; j < n; ++j) {
    const double x = left + cell * (static_cast<double>(j) + 0.5);
    const double y = top + grid + 10;
    Text(out, x, y, names[j], "class-label", "end",
         " transform=\"rotate(-45 " + Coord(x) + " " + Coord(y) + ")\"");
  }
  Text(out, left + grid / 2, height - 6, "predicted class", "axis-title",
       "middle");
  const double ty = top + grid / 2;
  Text(out, 12, ty, "true class", "axis-title", "middle",
       " transform=\"rotate(-90 12 " + Coord(ty) + ")\"");
  out += "</svg>\n</section>\n";
}

void RenderTimeline(const Context& c, std::string& out) {
  out += "<section id=\"s-timeline\">\n<h2>Timeline</h2>\n";
  const std::vector<AttemptRow>& attempts = c.data.attempts;
  if (attempts.empty()) {
    Note(out, "No attempt has started yet.");
    out += "</section>\n";
    return;
  }
  double t0 = std::numeric_limits<double>::infinity(), t1 = -t0;
  auto end_of = [&c](const AttemptRow& a) {
    double end = a.ended_at ? *a.ended_at : c.open_end;
    return std::isfinite(end) ? std::max(end, a.started_at) : a.started_at;
  };
  for (const AttemptRow& a : attempts) {
    t0 = std::min(t0, a.started_at);
    t1 = std::max(t1, end_of(a));
  }
  const double span = std::max(t1 - t0, 1e-3);
  // Lanes: workers in the order they started their first attempt; within a
  // lane, attempts that overlap (several slots) get rows of their own.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const AttemptRow*>> lanes;
  std::vector<const AttemptRow*> sorted;
  for (const AttemptRow& a : attempts) sorted.push_back(&a);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const AttemptRow* a, const AttemptRow* b) {
                     return a->started_at < b->started_at;
                   });
  for (const AttemptRow* a : sorted) {
    if (!lanes.count(a->worker)) order.push_back(a->worker);
    lanes[a->worker].push_back(a);
  }
  std::map<const AttemptRow*, int> row_of;
  std::map<std::string, int> rows_of;
  for (const std::string& worker : order) {
    std::vector<double> row_end;
    for (const AttemptRow* a : lanes[worker]) {
      size_t r = 0;
      while (r < row_end.size() && row_end[r] > a->started_at + 1e-6) ++r;
      if (r == row_end.size()) row_end.push_back(0);
      row_end[r] = end_of(*a);
      row_of[a] = static_cast<int>(r);
    }
    rows_of[worker] = static_cast<int>(row_end.size());
  }
  size_t longest = 0;
  for (const std::string& worker : order) {
    longest = std::max(longest, Shorten(worker, 24).size());
  }
  const double row = 12, gap = 8;
  const double left = std::min(190.0, 20 + 6.5 * static_cast<double>(longest));
  const double right = 20, top = 8;
  const double width = 900;
  double lanes_height = 0;
  for (const std::string& worker : order) {
    lanes_height += row * rows_of[worker] + gap;
  }
  const double axis_y = top + lanes_height;
  const double height = axis_y + 78;
  Scale x{0, span, left, width - right, false};
  int64_t open = 0;
  for (const AttemptRow& a : attempts) open += !a.ended_at;
  out +=
      "<p class=\"caption\">One lane per worker, one bar per attempt "
      "(a job: a trial trained from one epoch to another), coloured by "
      "how it ended; gaps are idle time. " +
      Plural(static_cast<int64_t>(attempts.size()), "attempt", "attempts") +
      " on " + Plural(static_cast<int64_t>(order.size()), "worker", "workers");
  if (open > 0) {
    out += "; " + Plural(open, "attempt is", "attempts are") +
           " still open (dashed, drawn up to " + UtcTime(c.open_end) + ")";
  }
  out += ".</p>\n";
  OpenSvg(out, "timeline", "timeline", width, height,
          "attempts per worker over time",
          " data-lanes=\"" + std::to_string(order.size()) +
              "\" data-attempts=\"" + std::to_string(attempts.size()) + "\"");
  double y = top;
  for (size_t l = 0; l < order.size(); ++l) {
    const std::string& worker = order[l];
    const double h = row * rows_of[worker];
    out += "<g class=\"lane\" data-worker=\"" + Escape(worker) + "\">\n";
    if (l % 2 == 0) {
      out += "<rect class=\"lane\" x=\"" + Coord(left) + "\" y=\"" +
             Coord(y - gap / 2) + "\" width=\"" + Coord(width - right - left) +
             "\" height=\"" + Coord(h + gap) + "\"/>\n";
    }
    Text(out, left - 6, y + h / 2 + 4,
         worker.empty() ? "(no worker)" : Shorten(worker, 24), "lane-label",
         "end");
    for (const AttemptRow* a : lanes[worker]) {
      const double x0 = x(a->started_at - t0);
      const double x1 = x(end_of(*a) - t0);
      const double by = y + row * row_of[a] + 1;
      const std::string state = a->ended_at ? a->state : "running";
      std::string title = "trial " + std::to_string(a->trial) + " attempt " +
                          std::to_string(a->attempt) + " on " + a->worker +
                          ": epochs " + std::to_string(a->from_epoch) +
                          "\xE2\x86\x92" + std::to_string(a->to_epoch) + ", " +
                          (a->ended_at ? a->state : "still running") + ", " +
                          ShortClock(end_of(*a) - a->started_at);
      if (!a->reason.empty()) title += " (" + Shorten(a->reason, 200) + ")";
      out += "<rect class=\"attempt " + IdPart(state) +
             (a->ended_at ? "" : " open") + "\" x=\"" + Coord(x0) + "\" y=\"" +
             Coord(by) + "\" width=\"" + Coord(std::max(1.0, x1 - x0)) +
             "\" height=\"" + Coord(row - 2) + "\" data-trial=\"" +
             std::to_string(a->trial) + "\"><title>" + Escape(title) +
             "</title></rect>\n";
    }
    out += "</g>\n";
    y += h + gap;
  }
  XAxis(out, x, axis_y, axis_y, TimeTicks(span, 9),
        "time since the first attempt started (from " + UtcTime(t0) + ")");
  // Legend: the outcomes present.
  std::vector<std::string> states;
  for (const AttemptRow& a : attempts) {
    const std::string s = a.ended_at ? a.state : "running";
    if (std::find(states.begin(), states.end(), s) == states.end()) {
      states.push_back(s);
    }
  }
  double lx = left;
  const double ly = height - 16;
  for (const std::string& s : states) {
    out += "<rect class=\"swatch attempt " + IdPart(s) + "\" x=\"" + Coord(lx) +
           "\" y=\"" + Coord(ly - 9) + "\" width=\"14\" height=\"10\"/>\n";
    Text(out, lx + 18, ly, s, "legend-label");
    lx += 30 + 7 * static_cast<double>(s.size());
  }
  out += "</svg>\n</section>\n";
}

}  // namespace

std::string RenderReport(const ReportData& data, const ReportOptions& options) {
  const Context c = MakeContext(data, options);
  std::string out;
  out.reserve(64 * 1024);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
      "charset=\"utf-8\">\n<meta name=\"viewport\" "
      "content=\"width=device-width, initial-scale=1\">\n<meta "
      "name=\"generator\" content=\"hpo-report\">\n<title>hpo report: " +
      Escape(data.study.name) + "</title>\n<style>" + kCss +
      "</style>\n</head>\n<body>\n<main>\n";
  RenderHeader(c, out);
  RenderLeaderboard(c, out);
  RenderCurves(c, out);
  RenderRungs(c, out);
  RenderParams(c, out);
  RenderParallel(c, out);
  RenderConfusion(c, out);
  RenderTimeline(c, out);
  out += "</main>\n</body>\n</html>\n";
  return out;
}

}  // namespace hpo
