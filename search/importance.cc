#include "search/importance.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <utility>

#include "common/error.h"
#include "common/random.h"
#include "search/search_space.h"

namespace hpo {

using nlohmann::json;

namespace {

// Which axes each parameter has (header comment), and the trials as rows.
struct Encoding {
  std::vector<const ParamSpec*> params;
  std::vector<std::vector<int>> axes_of;  // Parameter -> its axes.
  int axes = 0;
};

bool Single(const ParamSpec& p) {
  if (p.type == ParamType::kChoice) return p.values.size() < 2;
  return !(p.high > p.low);
}

Encoding Encode(const SearchSpaceSpec& space) {
  Encoding e;
  for (const ParamSpec& p : space.params) {
    if (Single(p)) continue;
    std::vector<int> axes;
    const int count =
        p.type == ParamType::kChoice ? static_cast<int>(p.values.size()) : 1;
    for (int i = 0; i < count + (p.when.empty() ? 0 : 1); ++i) {
      axes.push_back(e.axes++);
    }
    e.params.push_back(&p);
    e.axes_of.push_back(std::move(axes));
  }
  return e;
}

// One trial's point: every axis in [0, 1].
void Row(const Encoding& e, const json& params, double* row) {
  for (size_t k = 0; k < e.params.size(); ++k) {
    const ParamSpec& p = *e.params[k];
    const std::vector<int>& axes = e.axes_of[k];
    auto it = params.is_object() ? params.find(p.name) : params.end();
    const bool active = params.is_object() && it != params.end();
    if (p.type == ParamType::kChoice) {
      for (size_t i = 0; i < p.values.size(); ++i) {
        row[axes[i]] = active && *it == p.values[i] ? 1.0 : 0.0;
      }
    } else {
      row[axes[0]] =
          active ? std::clamp(SearchSpace::PositionOf(p, *it), 0.0, 1.0) : 0.5;
    }
    if (!p.when.empty()) row[axes.back()] = active ? 1.0 : 0.0;
  }
}

// A regression tree (CART: least squares, splits at midpoints between
// neighbouring values, grown until its leaves are pure or hold one sample)
// with the statistics functional ANOVA needs: each node's box in the unit
// cube, its volume and the volume-weighted mean of its leaves.
class Tree {
 public:
  Tree(const std::vector<double>& x, const std::vector<double>& y, int axes,
       std::vector<int> samples, int max_depth, Rng& rng)
      : x_(x), y_(y), axes_(axes), max_depth_(max_depth) {
    Build(samples, 0, static_cast<int>(samples.size()), 0, rng);
    Prepare();
  }

  double variance() const { return variance_; }

  // The variance of the marginal prediction over the axes `on` (true for
  // each axis of the subset): over every cell of those axes' split points,
  // weighted by the cell's size.
  double MarginalVariance(const std::vector<bool>& on) const {
    // Each axis of the subset that the tree splits: its cells' midpoints
    // and sizes.
    std::vector<int> axes;
    std::vector<std::vector<std::pair<double, double>>> cells;
    for (int a = 0; a < axes_; ++a) {
      if (!on[a] || thresholds_[a].empty()) continue;
      std::vector<std::pair<double, double>> c;
      double from = 0;
      for (double t : thresholds_[a]) {
        c.emplace_back(0.5 * (from + t), t - from);
        from = t;
      }
      c.emplace_back(0.5 * (from + 1.0), 1.0 - from);
      axes.push_back(a);
      cells.push_back(std::move(c));
    }
    if (axes.empty()) return 0.0;
    // Nodes whose subtree splits one of those axes.
    std::vector<char> splits_on(nodes_.size(), 0);
    for (int n = static_cast<int>(nodes_.size()) - 1; n >= 0; --n) {
      const Node& node = nodes_[n];
      if (node.axis < 0) continue;
      splits_on[n] =
          on[node.axis] || splits_on[node.left] || splits_on[node.right];
    }
    std::vector<double> point(axes_, 0.5);
    std::vector<size_t> at(axes.size(), 0);
    double sum_w = 0, sum_wv = 0, sum_wvv = 0;
    std::vector<int> stack;
    while (true) {
      double size = 1;
      for (size_t i = 0; i < axes.size(); ++i) {
        point[axes[i]] = cells[i][at[i]].first;
        size *= cells[i][at[i]].second;
      }
      // The prediction averaged over the other axes: every leaf the point's
      // coordinates reach, weighted by its volume along the other axes.
      double value = 0, weight = 0;
      stack.assign(1, 0);
      while (!stack.empty()) {
        const int n = stack.back();
        stack.pop_back();
        const Node& node = nodes_[n];
        if (node.axis >= 0 && on[node.axis]) {
          stack.push_back(point[node.axis] <= node.threshold ? node.left
                                                             : node.right);
        } else if (node.axis >= 0 && splits_on[n]) {
          stack.push_back(node.left);
          stack.push_back(node.right);
        } else {
          double extent = 1;
          for (int a : axes) extent *= hi_[Box(n, a)] - lo_[Box(n, a)];
          const double w = volume_[n] / extent;
          value += w * mean_[n];
          weight += w;
        }
      }
      value /= weight;
      sum_w += size;
      sum_wv += size * value;
      sum_wvv += size * value * value;
      // The next cell (an odometer over the axes).
      size_t i = 0;
      while (i < axes.size() && ++at[i] == cells[i].size()) at[i++] = 0;
      if (i == axes.size()) break;
    }
    const double mean = sum_wv / sum_w;
    return std::max(0.0, sum_wvv / sum_w - mean * mean);
  }

 private:
  struct Node {
    int axis = -1;  // -1: a leaf.
    double threshold = 0;
    int left = -1, right = -1;
    double value = 0;  // A leaf's prediction: its samples' mean.
  };

  double X(int sample, int axis) const {
    return x_[static_cast<size_t>(sample) * axes_ + axis];
  }
  size_t Box(int node, int axis) const {
    return static_cast<size_t>(node) * axes_ + axis;
  }

  int Build(std::vector<int>& s, int begin, int end, int depth, Rng& rng) {
    const int id = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    const int n = end - begin;
    double total = 0;
    for (int i = begin; i < end; ++i) total += y_[s[i]];
    nodes_[id].value = total / n;
    bool pure = true;
    for (int i = begin + 1; i < end && pure; ++i) {
      pure = y_[s[i]] == y_[s[begin]];
    }
    if (n < 2 || depth >= max_depth_ || pure) return id;

    // The axes in a random order; the first best split wins a tie.
    std::vector<int> order(axes_);
    std::iota(order.begin(), order.end(), 0);
    for (int i = axes_ - 1; i > 0; --i) {
      std::swap(order[i], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
    }
    const double base = total * total / n;
    double best_gain = 1e-12 * std::max(1.0, std::abs(base));
    int best_axis = -1;
    double best_threshold = 0;
    std::vector<std::pair<double, double>> xy(n);
    for (int axis : order) {
      for (int i = 0; i < n; ++i) {
        xy[i] = {X(s[begin + i], axis), y_[s[begin + i]]};
      }
      std::sort(xy.begin(), xy.end());
      double left = 0;
      for (int k = 1; k < n; ++k) {
        left += xy[k - 1].second;
        if (!(xy[k - 1].first < xy[k].first)) continue;
        const double right = total - left;
        const double gain = left * left / k + right * right / (n - k) - base;
        if (gain > best_gain) {
          best_gain = gain;
          best_axis = axis;
          best_threshold = 0.5 * (xy[k - 1].first + xy[k].first);
        }
      }
    }
    if (best_axis < 0) return id;
    auto middle = std::partition(
        s.begin() + begin, s.begin() + end,
        [&](int i) { return X(i, best_axis) <= best_threshold; });
    const int split = static_cast<int>(middle - s.begin());
    nodes_[id].axis = best_axis;
    nodes_[id].threshold = best_threshold;
    const int left = Build(s, begin, split, depth + 1, rng);
    const int right = Build(s, split, end, depth + 1, rng);
    nodes_[id].left = left;
    nodes_[id].right = right;
    return id;
  }

  void Prepare() {
    const size_t count = nodes_.size();
    lo_.assign(count * axes_, 0.0);
    hi_.assign(count * axes_, 1.0);
    volume_.assign(count, 0.0);
    mean_.assign(count, 0.0);
    thresholds_.assign(axes_, {});
    // Children come after their parent: boxes top down.
    for (size_t n = 0; n < count; ++n) {
      const Node& node = nodes_[n];
      if (node.axis < 0) continue;
      thresholds_[node.axis].push_back(node.threshold);
      for (int child : {node.left, node.right}) {
        std::copy(lo_.begin() + Box(n, 0), lo_.begin() + Box(n, 0) + axes_,
                  lo_.begin() + Box(child, 0));
        std::copy(hi_.begin() + Box(n, 0), hi_.begin() + Box(n, 0) + axes_,
                  hi_.begin() + Box(child, 0));
      }
      hi_[Box(node.left, node.axis)] = node.threshold;
      lo_[Box(node.right, node.axis)] = node.threshold;
    }
    for (std::vector<double>& t : thresholds_) {
      std::sort(t.begin(), t.end());
      t.erase(std::unique(t.begin(), t.end()), t.end());
    }
    // Volumes and means bottom up.
    for (int n = static_cast<int>(count) - 1; n >= 0; --n) {
      const Node& node = nodes_[n];
      if (node.axis < 0) {
        double v = 1;
        for (int a = 0; a < axes_; ++a) v *= hi_[Box(n, a)] - lo_[Box(n, a)];
        volume_[n] = v;
        mean_[n] = node.value;
      } else {
        volume_[n] = volume_[node.left] + volume_[node.right];
        mean_[n] = volume_[n] > 0
                       ? (volume_[node.left] * mean_[node.left] +
                          volume_[node.right] * mean_[node.right]) /
                             volume_[n]
                       : 0.5 * (mean_[node.left] + mean_[node.right]);
      }
    }
    double sum = 0, sum_sq = 0, total = 0;
    for (size_t n = 0; n < count; ++n) {
      if (nodes_[n].axis >= 0) continue;
      total += volume_[n];
      sum += volume_[n] * mean_[n];
      sum_sq += volume_[n] * mean_[n] * mean_[n];
    }
    const double mean = sum / total;
    variance_ = std::max(0.0, sum_sq / total - mean * mean);
  }

  const std::vector<double>& x_;
  const std::vector<double>& y_;
  const int axes_;
  const int max_depth_;
  std::vector<Node> nodes_;
  std::vector<double> lo_, hi_;  // Node x axis.
  std::vector<double> volume_, mean_;
  std::vector<std::vector<double>> thresholds_;  // Per axis, sorted.
  double variance_ = 0;
};

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0.0
                   : std::accumulate(v.begin(), v.end(), 0.0) /
                         static_cast<double>(v.size());
}

}  // namespace

ImportanceResult ParamImportances(const SearchSpaceSpec& space,
                                  const std::vector<json>& params,
                                  const std::vector<double>& values,
                                  const ImportanceOptions& options) {
  if (params.size() != values.size()) {
    throw RuntimeFailure("ParamImportances: one value per trial needed");
  }
  std::vector<size_t> kept;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) kept.push_back(i);
  }
  if (kept.size() < 2) {
    throw BadInput(
        "parameter importance needs at least 2 trials with an "
        "objective; " +
        std::to_string(kept.size()) +
        " have one (wait for more trials, or pick an epoch more "
        "trials reached)");
  }
  const Encoding e = Encode(space);
  ImportanceResult result;
  result.trials = static_cast<int64_t>(kept.size());
  if (e.params.empty()) return result;
  const int n = static_cast<int>(kept.size());
  std::vector<double> x(static_cast<size_t>(n) * e.axes);
  std::vector<double> y(n);
  for (int i = 0; i < n; ++i) {
    Row(e, params[kept[i]], x.data() + static_cast<size_t>(i) * e.axes);
    y[i] = values[kept[i]];
  }
  if (std::all_of(y.begin(), y.end(), [&](double v) { return v == y[0]; })) {
    throw BadInput("every trial has the same objective (" +
                   std::to_string(y[0]) + "): no parameter explains any of it");
  }

  std::vector<Tree> trees;
  for (int t = 0; t < std::max(1, options.trees); ++t) {
    Rng rng(SeedOf(options.seed, static_cast<uint64_t>(t), 0x1f4a0a));
    std::vector<int> samples(n);
    for (int& s : samples) s = static_cast<int>(rng.Below(n));
    Tree tree(x, y, e.axes, std::move(samples), std::max(1, options.max_depth),
              rng);
    if (tree.variance() > 0) trees.push_back(std::move(tree));
  }
  const size_t p_count = e.params.size();
  auto mask = [&](std::initializer_list<size_t> ps) {
    std::vector<bool> on(e.axes, false);
    for (size_t p : ps) {
      for (int a : e.axes_of[p]) on[a] = true;
    }
    return on;
  };
  // fractions[p][t]: tree t's marginal variance over p, over its variance.
  std::vector<std::vector<double>> fractions(p_count);
  for (size_t p = 0; p < p_count; ++p) {
    const std::vector<bool> on = mask({p});
    for (const Tree& tree : trees) {
      fractions[p].push_back(tree.MarginalVariance(on) / tree.variance());
    }
  }
  double sum = 0;
  for (size_t p = 0; p < p_count; ++p) sum += Mean(fractions[p]);
  for (size_t p = 0; p < p_count; ++p) {
    ParamImportance pi;
    pi.name = e.params[p]->name;
    pi.fraction = Mean(fractions[p]);
    double sq = 0;
    for (double f : fractions[p]) sq += (f - pi.fraction) * (f - pi.fraction);
    pi.fraction_std =
        fractions[p].empty() ? 0.0 : std::sqrt(sq / fractions[p].size());
    pi.importance = sum > 0 ? pi.fraction / sum : 0.0;
    result.params.push_back(std::move(pi));
  }
  std::vector<size_t> by_importance(p_count);
  std::iota(by_importance.begin(), by_importance.end(), 0);
  std::stable_sort(
      by_importance.begin(), by_importance.end(), [&](size_t a, size_t b) {
        return result.params[a].fraction > result.params[b].fraction;
      });
  const size_t candidates = std::min(
      p_count, static_cast<size_t>(std::max(0, options.pair_candidates)));
  for (size_t i = 0; i < candidates; ++i) {
    for (size_t j = i + 1; j < candidates; ++j) {
      const size_t a = by_importance[i], b = by_importance[j];
      const std::vector<bool> on = mask({a, b});
      std::vector<double> beyond;
      for (size_t t = 0; t < trees.size(); ++t) {
        beyond.push_back(trees[t].MarginalVariance(on) / trees[t].variance() -
                         fractions[a][t] - fractions[b][t]);
      }
      PairImportance pair;
      pair.first = e.params[a]->name;
      pair.second = e.params[b]->name;
      pair.fraction = std::max(0.0, Mean(beyond));
      result.pairs.push_back(std::move(pair));
    }
  }
  std::stable_sort(result.pairs.begin(), result.pairs.end(),
                   [](const PairImportance& a, const PairImportance& b) {
                     return a.fraction > b.fraction;
                   });
  std::stable_sort(result.params.begin(), result.params.end(),
                   [](const ParamImportance& a, const ParamImportance& b) {
                     return a.importance > b.importance;
                   });
  return result;
}

int ImportanceEpoch(const std::vector<std::vector<double>>& curves,
                    int min_trials) {
  std::map<int, int> reached;  // Epoch -> trials with a finite objective.
  for (const std::vector<double>& curve : curves) {
    for (size_t e = 0; e < curve.size(); ++e) {
      if (std::isfinite(curve[e])) ++reached[static_cast<int>(e) + 1];
    }
  }
  int best = 0, most = 0;
  for (auto it = reached.rbegin(); it != reached.rend(); ++it) {
    if (it->second >= min_trials) return it->first;
    if (it->second > most) {
      most = it->second;
      best = it->first;
    }
  }
  return best;
}

}  // namespace hpo
