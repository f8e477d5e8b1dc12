// The population-based training section: each mutated parameter of every
// member against the epoch (a step at each exploit), and the members'
// learning curves coloured by the founding member whose weights each
// segment carries. Only studies with exploits have it.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "results/report_format.h"
#include "results/report_sections.h"
#include "results/svg_plot.h"

namespace hpo {
namespace report_html {

namespace {

// Tableau's 10 categorical colours: member i (by trial number) has colour
// i mod 10, in the parameter plots and as a founder in the lineage plot.
const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                "#bcbd22", "#17becf"};

// The exploits of each member by epoch, and what follows from them.
class Lineage {
 public:
  explicit Lineage(const Context& c) : c_(c) {
    for (const ExploitRow& x : c.data.exploits) {
      by_trial_[x.trial].push_back(&x);
    }
    for (auto& [trial, list] : by_trial_) {
      std::stable_sort(list.begin(), list.end(),
                       [](const ExploitRow* a, const ExploitRow* b) {
                         return a->epoch < b->epoch;
                       });
    }
    std::set<int64_t> numbers;
    for (const TrialRow& t : c.data.trials) numbers.insert(t.number);
    for (const ExploitRow& x : c.data.exploits) {
      numbers.insert(x.trial);
      numbers.insert(x.parent);
    }
    members_.assign(numbers.begin(), numbers.end());
  }

  // Every trial that is a member or a parent, by number.
  const std::vector<int64_t>& members() const { return members_; }

  const std::vector<const ExploitRow*>& Exploits(int64_t trial) const {
    static const std::vector<const ExploitRow*> kNone;
    auto it = by_trial_.find(trial);
    return it == by_trial_.end() ? kNone : it->second;
  }

  std::string Colour(int64_t trial) const {
    auto it = std::lower_bound(members_.begin(), members_.end(), trial);
    const size_t i = static_cast<size_t>(it - members_.begin());
    return kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
  }

  // The member's latest exploit before epoch `epoch` (so in effect while it
  // trains that epoch), or nullptr.
  const ExploitRow* Before(int64_t trial, int epoch) const {
    const ExploitRow* last = nullptr;
    for (const ExploitRow* x : Exploits(trial)) {
      if (x->epoch < epoch) last = x;
    }
    return last;
  }

  // The initial member whose weights `trial` holds after `epoch` epochs:
  // parent links followed back (the segment after an exploit at e from P
  // carries P's founder at the exploit's parent_epoch).
  int64_t Founder(int64_t trial, int epoch) const {
    // Bounded, so that damaged rows with a cycle still end.
    for (size_t step = 0; step <= c_.data.exploits.size(); ++step) {
      const ExploitRow* x = Before(trial, epoch);
      if (x == nullptr) return trial;
      trial = x->parent;
      epoch = x->parent_epoch;
    }
    return trial;
  }

  // The member's parameters before its first exploit: that exploit's old
  // ones, else the trial's.
  json Initial(int64_t trial) const {
    const auto& list = Exploits(trial);
    if (!list.empty()) return list.front()->old_params;
    auto it = c_.trials.find(trial);
    return it == c_.trials.end() ? json::object() : it->second->params;
  }

  // The last epoch the member reached (trained, reported or exploited at).
  int End(int64_t trial) const {
    int end = 0;
    auto t = c_.trials.find(trial);
    if (t != c_.trials.end()) end = t->second->epochs;
    auto curve = c_.curves.find(trial);
    if (curve != c_.curves.end() && !curve->second.empty()) {
      end = std::max(end, curve->second.back().first);
    }
    for (const ExploitRow* x : Exploits(trial)) end = std::max(end, x->epoch);
    return end;
  }

 private:
  const Context& c_;
  std::map<int64_t, std::vector<const ExploitRow*>> by_trial_;
  std::vector<int64_t> members_;
};

// The parameters that some exploit changed: the study file's order first,
// then any others by name.
std::vector<std::string> MutatedParams(const Context& c) {
  std::set<std::string> changed;
  for (const ExploitRow& x : c.data.exploits) {
    const json pairs = ChangedParams(x.old_params, x.new_params);
    for (const auto& item : pairs.items()) changed.insert(item.key());
  }
  std::vector<std::string> names;
  for (const ParamInfo& p : c.spec.params) {
    if (changed.erase(p.name)) names.push_back(p.name);
  }
  names.insert(names.end(), changed.begin(), changed.end());
  return names;
}

const ParamInfo* FindParam(const Context& c, const std::string& name) {
  for (const ParamInfo& p : c.spec.params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// A value axis for one parameter over every value the members held.
struct ValueAxis {
  AxisKind kind = AxisKind::kLinear;
  double lo = 0, hi = 1;
  std::vector<json> categories;

  ValueAxis(const ParamInfo* p, const std::vector<json>& values) {
    if (p != nullptr) {
      kind = p->kind;
      categories = p->categories;
    }
    for (const json& v : values) {
      if (kind != AxisKind::kCategory && !v.is_number()) {
        kind = AxisKind::kCategory;
      }
      if (kind == AxisKind::kLog && !(v.get<double>() > 0)) {
        kind = AxisKind::kLinear;
      }
    }
    if (kind == AxisKind::kCategory) {
      for (const json& v : values) {
        if (std::find(categories.begin(), categories.end(), v) ==
            categories.end()) {
          categories.push_back(v);
        }
      }
      lo = -0.5;
      hi = static_cast<double>(categories.size()) - 0.5;
      return;
    }
    lo = std::numeric_limits<double>::infinity();
    hi = -lo;
    for (const json& v : values) {
      const double d = v.get<double>();
      if (!std::isfinite(d)) continue;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    Widen(lo, hi, kind == AxisKind::kLog, 0.06);
    if (kind == AxisKind::kLog) {  // Widen pads linear domains only.
      const double pad = std::pow(hi / lo, 0.06);
      lo /= pad;
      hi *= pad;
    }
  }

  // Where `value` sits on the axis (a category's index); nullopt when it
  // cannot show it.
  std::optional<double> At(const json& value) const {
    if (kind == AxisKind::kCategory) {
      auto it = std::find(categories.begin(), categories.end(), value);
      if (it == categories.end()) return std::nullopt;
      return static_cast<double>(it - categories.begin());
    }
    if (!value.is_number()) return std::nullopt;
    const double v = value.get<double>();
    if (!std::isfinite(v) || (kind == AxisKind::kLog && !(v > 0))) {
      return std::nullopt;
    }
    return v;
  }

  std::vector<Tick> Ticks() const {
    if (kind == AxisKind::kLog) return LogTicks(lo, hi);
    if (kind != AxisKind::kCategory) return NiceTicks(lo, hi, 5);
    std::vector<Tick> ticks;
    for (size_t i = 0; i < categories.size(); ++i) {
      ticks.push_back(
          {static_cast<double>(i), Shorten(ValueLabel(categories[i]), 10)});
    }
    return ticks;
  }
};

// One member's value of `name` from epoch `from` on: a step of the plot.
struct Step {
  int from = 0;
  json value;                           // null when the member lacks it.
  const ExploitRow* exploit = nullptr;  // What set it (null: the start).
};

std::vector<Step> Steps(const Lineage& lineage, int64_t trial,
                        const std::string& name) {
  auto at = [&name](const json& params) {
    return params.is_object() && params.contains(name) ? params[name] : json();
  };
  std::vector<Step> steps = {{0, at(lineage.Initial(trial)), nullptr}};
  for (const ExploitRow* x : lineage.Exploits(trial)) {
    steps.push_back({x->epoch, at(x->new_params), x});
  }
  return steps;
}

std::string ExploitTitle(const ExploitRow& x) {
  std::string text = "trial " + std::to_string(x.trial) + " after epoch " +
                     std::to_string(x.epoch) + ": took trial " +
                     std::to_string(x.parent) + "'s checkpoint (epoch " +
                     std::to_string(x.parent_epoch) + ")";
  const json changed = ChangedParams(x.old_params, x.new_params);
  for (const auto& [name, pair] : changed.items()) {
    text += "; " + name + " " + ValueLabel(pair[0]) + " \xE2\x86\x92 " +
            ValueLabel(pair[1]);
  }
  return text;
}

void RenderParamSteps(const Context& c, const Lineage& lineage,
                      const std::string& name, int max_epoch,
                      std::map<std::string, int>& ids, std::string& out) {
  const ParamInfo* info = FindParam(c, name);
  std::vector<json> values;
  for (int64_t trial : lineage.members()) {
    for (const Step& s : Steps(lineage, trial, name)) {
      if (!s.value.is_null()) values.push_back(s.value);
    }
  }
  const ValueAxis axis(info, values);
  const std::string scale = axis.kind == AxisKind::kLog        ? "log"
                            : axis.kind == AxisKind::kCategory ? "category"
                                                               : "linear";
  std::string id = "pbt-param-" + IdPart(name);
  if (ids[id]++ > 0) id += "-" + std::to_string(ids[id]);
  const double width = 460, height = 250;
  const double left = 70, right = 14, top = 24, bottom = 46;
  out += "<figure>\n";
  OpenSvg(out, id, "pbt-param", width, height,
          name + " of each member by epoch",
          " data-param=\"" + Escape(name) + "\" data-scale=\"" + scale + "\"");
  Text(out, 8, 14,
       Shorten(
           name + (info && !info->type.empty() ? " (" + info->type + ")" : ""),
           60),
       "plot-title");
  Scale x{0, static_cast<double>(max_epoch), left, width - right, false};
  Scale y{axis.lo, axis.hi, height - bottom, top, axis.kind == AxisKind::kLog};
  XAxis(out, x, height - bottom, top,
        NiceTicks(0, max_epoch, std::min(max_epoch, 10), true), "epoch");
  YAxis(out, y, left, width - right, axis.Ticks(),
        axis.kind == AxisKind::kLog ? name + " (log scale)" : name);
  std::string lines, markers;
  int64_t drawn = 0, jumps = 0;
  for (int64_t trial : lineage.members()) {
    const int end = lineage.End(trial);
    if (end <= 0) continue;
    const std::vector<Step> steps = Steps(lineage, trial, name);
    std::string d;
    std::optional<double> pen;  // The y of the pen, when it is down.
    for (size_t i = 0; i < steps.size(); ++i) {
      const int to = i + 1 < steps.size() ? steps[i + 1].from : end;
      const std::optional<double> v = axis.At(steps[i].value);
      if (!v) {
        pen.reset();
        continue;
      }
      const double py = y(*v);
      d += (pen ? "V" : "M" + Coord(x(steps[i].from)) + " ") + Coord(py) + "H" +
           Coord(x(std::max(to, steps[i].from)));
      pen = py;
      if (steps[i].exploit != nullptr) {
        ++jumps;
        markers += "<circle class=\"exploit-marker\" data-trial=\"" +
                   std::to_string(trial) + "\" cx=\"" +
                   Coord(x(steps[i].from)) + "\" cy=\"" + Coord(py) +
                   "\" r=\"3\" stroke=\"" + lineage.Colour(trial) +
                   "\"><title>" + Escape(ExploitTitle(*steps[i].exploit)) +
                   "</title></circle>\n";
      }
    }
    if (d.empty()) continue;
    ++drawn;
    lines += "<path class=\"pbt-step\" data-trial=\"" + std::to_string(trial) +
             "\" stroke=\"" + lineage.Colour(trial) + "\" d=\"" + d +
             "\"><title>trial " + std::to_string(trial) + ": " + Escape(name) +
             " by epoch</title></path>\n";
  }
  out += "<g class=\"steps\" data-members=\"" + std::to_string(drawn) +
         "\" data-jumps=\"" + std::to_string(jumps) + "\">\n" + lines +
         markers + "</g>\n</svg>\n</figure>\n";
}

// A member's learning curve cut where the founder its weights carry
// changes, one path per piece.
void RenderLineageCurves(const Context& c, const Lineage& lineage,
                         std::string& out) {
  const std::string& metric = c.data.study.metric;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int max_epoch = 1;
  for (int64_t trial : lineage.members()) {
    auto it = c.curves.find(trial);
    if (it == c.curves.end()) continue;
    for (const auto& [epoch, value] : it->second) {
      if (!std::isfinite(value)) continue;
      lo = std::min(lo, value);
      hi = std::max(hi, value);
      max_epoch = std::max(max_epoch, epoch);
    }
  }
  out += "<h3>Learning curves by lineage</h3>\n";
  if (!(lo <= hi)) {
    Note(out, "No member has reported a finite " + metric + " yet.");
    return;
  }
  out += "<p class=\"caption\">" + Escape(metric) +
         " of every member; each stretch is coloured by the founding member "
         "whose weights it carries (followed back through the checkpoints it "
         "copied), open circles mark exploits.</p>\n";
  const double width = 900, height = 430;
  const double left = 70, right = 150, top = 14, bottom = 52;
  Widen(lo, hi, false, 0.04);
  Scale x{0, static_cast<double>(max_epoch), left, width - right, false};
  Scale y{lo, hi, height - bottom, top, false};
  std::string paths, markers;
  std::set<int64_t> founders;
  int64_t members = 0;
  for (int64_t trial : lineage.members()) {
    auto it = c.curves.find(trial);
    if (it == c.curves.end()) continue;
    const Curve& curve = it->second;
    bool any = false;
    // Pieces of (founder, path); a segment ending at epoch e is trained
    // with the weights the member holds after e epochs.
    std::vector<std::pair<int64_t, std::string>> pieces;
    int64_t current = -1;
    bool pen = false;     // The previous point is finite.
    bool lonely = false;  // The last piece is one point so far.
    for (size_t i = 0; i < curve.size(); ++i) {
      const auto& [epoch, value] = curve[i];
      if (!std::isfinite(value)) {
        if (lonely) pieces.back().second += "h0";
        pen = lonely = false;
        continue;
      }
      any = true;
      const int64_t founder = lineage.Founder(trial, epoch);
      founders.insert(founder);
      const std::string point = Coord(x(epoch)) + " " + Coord(y(value));
      if (pen && founder == current) {
        pieces.back().second += "L" + point;
      } else if (pen) {
        // From the previous point on, in the new founder's colour.
        const auto& [pe, pv] = curve[i - 1];
        pieces.push_back(
            {founder, "M" + Coord(x(pe)) + " " + Coord(y(pv)) + "L" + point});
      } else {
        pieces.push_back({founder, "M" + point});
      }
      lonely = !pen;
      current = founder;
      pen = true;
    }
    if (lonely) pieces.back().second += "h0";
    if (!any) continue;
    ++members;
    for (const auto& [founder, d] : pieces) {
      paths += "<path class=\"lineage-segment\" data-trial=\"" +
               std::to_string(trial) + "\" data-founder=\"" +
               std::to_string(founder) + "\" stroke=\"" +
               lineage.Colour(founder) + "\" d=\"" + d + "\"><title>trial " +
               std::to_string(trial) + ", carrying trial " +
               std::to_string(founder) + "'s weights</title></path>\n";
    }
    for (const ExploitRow* x_row : lineage.Exploits(trial)) {
      double v = kNaN;
      for (const auto& [epoch, value] : curve) {
        if (epoch == x_row->epoch) v = value;
      }
      if (!std::isfinite(v)) continue;
      markers += "<circle class=\"exploit-marker\" data-trial=\"" +
                 std::to_string(trial) + "\" cx=\"" + Coord(x(x_row->epoch)) +
                 "\" cy=\"" + Coord(y(v)) + "\" r=\"3.5\" stroke=\"" +
                 lineage.Colour(lineage.Founder(trial, x_row->epoch + 1)) +
                 "\"><title>" + Escape(ExploitTitle(*x_row)) +
                 "</title></circle>\n";
    }
  }
  OpenSvg(out, "lineage", "lineage", width, height,
          "learning curves of the members, coloured by founding member",
          " data-members=\"" + std::to_string(members) + "\" data-founders=\"" +
              std::to_string(founders.size()) + "\"");
  XAxis(out, x, height - bottom, top,
        NiceTicks(0, max_epoch, std::min(max_epoch, 10), true), "epoch");
  YAxis(out, y, left, width - right, NiceTicks(lo, hi, 6), metric);
  out += "<g class=\"curves\">\n" + paths + markers + "</g>\n";
  // Legend: the founders, at most 16.
  const double lx = width - right + 16;
  double ly = top + 10;
  out += "<g class=\"legend\">\n";
  Text(out, lx, ly, "weights of", "legend-label");
  ly += 18;
  size_t shown = 0;
  for (int64_t founder : founders) {
    if (shown++ == 16) {
      Text(out, lx, ly + 4,
           "+" + std::to_string(founders.size() - 16) + " more",
           "legend-label");
      break;
    }
    out += "<path class=\"swatch-line lineage-segment\" stroke=\"" +
           lineage.Colour(founder) + "\" d=\"M" + Coord(lx) + " " + Coord(ly) +
           "h22\"/>\n";
    Text(out, lx + 28, ly + 4, "trial " + std::to_string(founder),
         "legend-label");
    ly += 18;
  }
  out += "</g>\n</svg>\n";
}

}  // namespace

void RenderPbt(const Context& c, std::string& out) {
  if (c.data.exploits.empty()) return;
  const Lineage lineage(c);
  out += "<section id=\"s-pbt\">\n<h2>Population-based training</h2>\n";
  std::set<int64_t> exploited;
  int max_epoch = 1;
  for (const ExploitRow& x : c.data.exploits) exploited.insert(x.trial);
  for (int64_t trial : lineage.members()) {
    max_epoch = std::max(max_epoch, lineage.End(trial));
  }
  // Who carries whose weights at the end.
  std::map<int64_t, int64_t> carriers;
  for (int64_t trial : lineage.members()) {
    const int end = lineage.End(trial);
    if (end > 0) ++carriers[lineage.Founder(trial, end)];
  }
  std::string founders;
  for (const auto& [founder, n] : carriers) {
    founders += (founders.empty() ? "" : ", ") + std::string("trial ") +
                std::to_string(founder) + " (" +
                Plural(n, "member", "members") + ")";
  }
  out += "<p class=\"caption\">" +
         Plural(static_cast<int64_t>(c.data.exploits.size()), "exploit",
                "exploits") +
         ": " +
         Plural(static_cast<int64_t>(exploited.size()), "member", "members") +
         " of " + std::to_string(lineage.members().size()) +
         " took a better member's checkpoint and perturbed parameters. At "
         "their last epoch the members carry the weights of " +
         Escape(founders) + ".</p>\n";
  const std::vector<std::string> params = MutatedParams(c);
  out += "<h3>Parameters by epoch</h3>\n";
  if (params.empty()) {
    Note(out, "No exploit changed a parameter (each copied weights only).");
  } else {
    out +=
        "<p class=\"caption\">Each member's value of every parameter that an "
        "exploit changed, one colour per member; a step and a circle where "
        "the member exploited. Log-scaled parameters on log axes, choices "
        "as categories.</p>\n<div class=\"grid\">\n";
    std::map<std::string, int> ids;
    for (const std::string& name : params) {
      RenderParamSteps(c, lineage, name, max_epoch, ids, out);
    }
    out += "</div>\n";
  }
  RenderLineageCurves(c, lineage, out);
  out += "</section>\n";
}

}  // namespace report_html
}  // namespace hpo
