// The report generator on studies written through hpo::Store: every section
// is present and drawn from the data (one curve per trial with metrics, the
// best highlighted, the rungs' counts, log axes, an N x N confusion matrix,
// one timeline bar per attempt), text is escaped, odd data (no trials, NaN,
// open attempts, a study file that no longer parses) still gives a page,
// and the real hpo-report binary's exit codes and messages.
#include "results/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/store.h"
#include "common/trial_state.h"
#include "results/report_serve.h"
#include "tests/util/process.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace {

using nlohmann::json;
using testutil::ReadFile;
using testutil::RunCommand;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kT0 = 1700000000;  // Unix seconds the studies start at.

// A Hyperband study (1 to 9 epochs, eta 3: brackets of 9, 5 and 3 trials)
// whose description, choice values and errors need escaping.
json Spec(const std::string& name, const std::string& algorithm) {
  json spec = {
      {"name", name},
      {"description", "Tom's <b>test</b> & \"more\""},
      {"seed", 3},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"trainer", {{"model", "cnn"}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
        {"batch_size",
         {{"type", "int"}, {"low", 16}, {"high", 256}, {"log", true}}},
        {"scheduler", {{"type", "choice"}, {"values", {"none", "<cyclic>"}}}},
        {"dropout", {{"type", "uniform"}, {"low", 0.0}, {"high", 0.5}}}}},
      {"algorithm",
       {{"type", algorithm}, {"min_epochs", 1}, {"max_epochs", 9}, {"eta", 3}}},
  };
  if (algorithm == "random" || algorithm == "asha" || algorithm == "median") {
    spec["budget"] = {{"max_trials", 20}};
  }
  if (algorithm == "random") spec["algorithm"].erase("min_epochs");
  if (algorithm == "random") spec["algorithm"].erase("eta");
  if (algorithm == "median") {
    spec["algorithm"] = {{"type", "median"}, {"max_epochs", 9}};
  }
  return spec;
}

StudyRow Study(const std::string& name, const std::string& algorithm,
               const std::string& spec) {
  StudyRow study;
  study.name = name;
  study.spec = spec;
  study.spec_hash = HashText(spec);
  study.algorithm = algorithm;
  study.metric = "val_accuracy";
  study.mode = "max";
  study.state = "complete";
  study.created_at = kT0;
  study.updated_at = kT0 + 60;
  study.elapsed_s = 60;
  return study;
}

json Params(int i) {
  return {{"lr", 1e-4 * (i + 1)},
          {"batch_size", 16 << (i % 5)},
          {"scheduler", i % 2 ? "<cyclic>" : "none"},
          {"dropout", 0.05 * (i % 10)}};
}

// The study every test below starts from, written through the store:
//   bracket 0 (s = 2): trials 0..8 in rung 0; 0, 1, 2 promoted to rung 1;
//     0 promoted to rung 2 and complete; 8 failed (no finite value); the
//     others pruned. Trial 5 (pruned) has a higher value than trial 0
//     (complete), which ranks first all the same; 6 and 7 tie.
//   bracket 1 (s = 1): trial 9 running (its attempt still open), trial 10
//     queued with no metrics.
//   Trial 1 reported a null objective at epoch 2 (its curve breaks there).
//   Attempts on workers "w1" and "w2 <b>"; trial 4's first attempt lost.
//   The evaluation of trial 0: three classes with names to escape.
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    db_ = scratch_.path() + "/results.db";
    std::unique_ptr<Store> store = Store::Open(db_);
    Write(*store, "mini", "hyperband");
    store->Commit();
  }

  // Writes the study above as `name` with `algorithm` into `store`.
  void Write(Store& store, const std::string& name,
             const std::string& algorithm) {
    const int64_t id = store.CreateStudy(
        Study(name, algorithm, Spec(name, algorithm).dump(2)));
    // (trial, rung, state, objective per epoch; NaN for null).
    struct Plan {
      int64_t trial;
      int bracket;
      int rung;
      TrialState state;
      std::vector<double> values;
    };
    const std::vector<Plan> plans = {
        {0,
         0,
         2,
         TrialState::kComplete,
         {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9}},
        {1, 0, 1, TrialState::kPruned, {0.35, kNaN, 0.45}},
        {2, 0, 1, TrialState::kPruned, {0.32, 0.4, 0.42}},
        {3, 0, 0, TrialState::kPruned, {0.2}},
        {4, 0, 0, TrialState::kPruned, {0.25}},
        {5, 0, 0, TrialState::kPruned, {0.95}},
        {6, 0, 0, TrialState::kPruned, {0.1}},
        {7, 0, 0, TrialState::kPruned, {0.1}},
        {8, 0, 0, TrialState::kFailed, {kNaN}},
        {9, 1, 0, TrialState::kRunning, {0.3, 0.31}},
        {10, 1, 0, TrialState::kQueued, {}},
    };
    double t = kT0;
    for (const Plan& p : plans) {
      TrialRow row;
      row.number = p.trial;
      row.state = p.state;
      row.params = Params(static_cast<int>(p.trial));
      row.bracket = p.bracket;
      row.rung = p.rung;
      row.epochs = static_cast<int>(p.values.size());
      if (!p.values.empty() && std::isfinite(p.values.back())) {
        row.value = p.values.back();
        row.best_value = p.values.back();
      }
      if (p.state == TrialState::kFailed) {
        row.error = "diverged: loss is NaN <at> epoch 1 & \"lr\" too high";
      }
      row.worker = p.trial % 2 ? "w2 <b>" : "w1";
      row.updated_at = kT0 + 50;
      // One attempt per rung the trial trained in (epochs 0-1, 1-3, 3-9).
      const int ends[] = {p.bracket == 0 ? 1 : 3, 3, 9};
      int from = 0;
      for (int r = 0; r <= p.rung && !p.values.empty(); ++r) {
        if (p.trial == 4)
          AddAttempt(store, id, p.trial, row.worker, 0, 1, "lost", t, t + 1,
                     "worker w2 lost");
        const bool open = p.state == TrialState::kRunning;
        const bool failed = p.state == TrialState::kFailed;
        AddAttempt(store, id, p.trial, row.worker, from, ends[r],
                   failed ? "failed" : "done", t + 1, open ? -1 : t + 3,
                   failed ? "diverged" : "");
        from = ends[r];
        t += 1.5;
      }
      row.attempts = static_cast<int>(attempts_[p.trial]);
      store.PutTrial(id, row);
      for (size_t e = 0; e < p.values.size(); ++e) {
        MetricRow m;
        m.trial = p.trial;
        m.epoch = static_cast<int>(e) + 1;
        if (std::isfinite(p.values[e])) {
          m.objective = p.values[e];
          m.metrics = {{"val_accuracy", p.values[e]}, {"train_loss", 1.0}};
        } else {
          m.metrics = {{"val_accuracy", nullptr}, {"train_loss", nullptr}};
        }
        m.recorded_at = kT0 + 10 + static_cast<double>(e);
        store.PutMetrics(id, m);
      }
    }
    int64_t seq = 0;
    for (const char* event : {R"({"type":"next"})",
                              R"({"type":"epoch","trial":0,"epoch":1,)"
                              R"("value":0.3})",
                              R"({"type":"restart","trial":4})",
                              R"({"type":"failed","trial":8})"}) {
      store.AddEvent(id, seq++, event);
    }
    EvaluationRow e;
    e.trial = 0;
    e.state = "done";
    e.checkpoint = "mini/trial-00000/epoch-0009.pt";
    e.epoch = 9;
    e.loss = 0.4;
    e.accuracy = 0.8;
    e.track_accuracy = 0.85;
    e.samples = 30;
    e.tracks = 10;
    e.classes = {"rock & roll", "<i>metal</i>", "jazz"};
    e.confusion = {{8, 1, 1}, {2, 7, 1}, {0, 1, 9}};
    e.worker = "w1";
    e.recorded_at = kT0 + 60;
    store.PutEvaluation(id, e);
  }

  void AddAttempt(Store& store, int64_t study, int64_t trial,
                  const std::string& worker, int from, int to,
                  const std::string& state, double start, double end,
                  const std::string& reason) {
    AttemptRow a;
    a.trial = trial;
    a.attempt = static_cast<int>(++attempts_[trial]);
    a.lease = ++leases_;
    a.worker = worker;
    a.from_epoch = from;
    a.to_epoch = to;
    a.started_at = start;
    a.state = "running";
    const int64_t row = store.AddAttempt(study, a);
    if (end >= 0) store.EndAttempt(row, state, reason, end);
    ++total_attempts_;
  }

  std::string Render(const std::string& study = "mini",
                     const ReportOptions& options = {}) {
    std::unique_ptr<Store> store = Store::Open(db_, /*read_only=*/true);
    std::optional<StudyRow> row = store->FindStudy(study);
    EXPECT_TRUE(row) << study;
    if (!row) return "";
    return RenderReport(ReadReportData(*store, *row), options);
  }

  testutil::ScratchDir scratch_{"hpo_report"};
  std::string db_;
  std::map<int64_t, int64_t> attempts_;
  int64_t leases_ = 0;
  int64_t total_attempts_ = 0;
};

int Count(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + part.size())) {
    ++n;
  }
  return n;
}

int CountMatches(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  return static_cast<int>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), re),
                    std::sregex_iterator()));
}

// The element <svg ... id="ID" ...>...</svg>, or "" when there is none.
std::string Svg(const std::string& html, const std::string& id) {
  const size_t at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  const size_t start = html.rfind("<svg", at);
  const size_t end = html.find("</svg>", at);
  if (start == std::string::npos || end == std::string::npos) return "";
  return html.substr(start, end + 6 - start);
}

// The values of attribute `name` on elements whose class starts with `cls`.
std::vector<std::string> Attributes(const std::string& svg,
                                    const std::string& cls,
                                    const std::string& name) {
  std::vector<std::string> values;
  const std::regex re("class=\"" + cls + "[^\"]*\"[^>]*? " + name +
                      "=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re);
       it != std::sregex_iterator(); ++it) {
    values.push_back((*it)[1]);
  }
  return values;
}

// Checks that `html` is well formed as far as escaping decides: every tag
// closes in order (HTML's void elements aside), no '<' or '>' appears in
// text or attribute values, and every '&' starts an entity.
void ExpectWellFormed(const std::string& html) {
  static const std::set<std::string> kVoid = {"meta", "br",    "hr",
                                              "img",  "input", "link"};
  std::vector<std::string> open;
  size_t i = html.find("<html");
  ASSERT_NE(i, std::string::npos);
  bool in_style = false;
  while (i < html.size()) {
    const size_t lt = html.find('<', i);
    const std::string text =
        html.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (!in_style) {
      EXPECT_EQ(text.find('>'), std::string::npos) << "'>' in text: " << text;
      const std::regex entity("&(amp|lt|gt|quot|#39);");
      std::string stripped = std::regex_replace(text, entity, "");
      EXPECT_EQ(stripped.find('&'), std::string::npos)
          << "bare '&' in text: " << text;
    }
    if (lt == std::string::npos) break;
    const size_t gt = html.find('>', lt);
    ASSERT_NE(gt, std::string::npos);
    std::string tag = html.substr(lt + 1, gt - lt - 1);
    // Attribute values hold no '<' (a '>' would have ended the tag early,
    // which the quote count below catches).
    EXPECT_EQ(tag.find('<'), std::string::npos) << tag;
    EXPECT_EQ(Count(tag, "\"") % 2, 0) << "unbalanced quotes: " << tag;
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    std::string name = tag.substr(closing ? 1 : 0);
    name = name.substr(0, name.find_first_of(" \n/"));
    if (closing) {
      ASSERT_FALSE(open.empty()) << "</" << name << "> closes nothing";
      EXPECT_EQ(open.back(), name)
          << "</" << name << "> closes <" << open.back() << ">";
      open.pop_back();
      if (name == "style" || name == "script") in_style = false;
    } else if (!self_closing && !kVoid.count(name)) {
      open.push_back(name);
      if (name == "style" || name == "script") in_style = true;
    }
    i = gt + 1;
  }
  EXPECT_TRUE(open.empty()) << open.size() << " unclosed, first <"
                            << (open.empty() ? "" : open.front()) << ">";
}

TEST_F(ReportTest, EverySectionHasItsPlot) {
  const std::string html = Render();
  ExpectWellFormed(html);
  for (const char* id :
       {"curves", "rungs", "param-lr", "param-batch_size", "param-scheduler",
        "param-dropout", "parallel", "importance", "confusion", "timeline"}) {
    const std::string svg = Svg(html, id);
    EXPECT_FALSE(svg.empty()) << id;
    EXPECT_GT(Count(svg, "<path") + Count(svg, "<rect") + Count(svg, "<circle"),
              2)
        << id << " has nothing drawn";
  }
  EXPECT_NE(html.find("<table id=\"leaderboard\">"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos) << "no JavaScript";
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"))
      << "no links out of the page but the SVG namespace";
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST_F(ReportTest, HeaderSaysWhatTheStudyIs) {
  const std::string html = Render();
  EXPECT_NE(html.find("<h1>Study mini</h1>"), std::string::npos);
  EXPECT_NE(html.find("hyperband (eta 3, 1\xE2\x80\x93"
                      "9 epochs)"),
            std::string::npos);
  EXPECT_NE(html.find("val_accuracy (maximize)"), std::string::npos);
  EXPECT_NE(html.find("<dt>sampler</dt><dd>random</dd>"), std::string::npos);
  EXPECT_NE(html.find("<span id=\"study-state\">complete</span>"),
            std::string::npos);
  EXPECT_NE(html.find("11: 1 complete, 7 pruned, 1 failed, 1 running, 1 "
                      "queued"),
            std::string::npos);
  EXPECT_NE(html.find("trial 0: 0.9 at its last epoch, complete after 9 "
                      "epochs"),
            std::string::npos);
  EXPECT_NE(html.find("0:01:00"), std::string::npos);  // elapsed_s.
  EXPECT_NE(html.find("1 restart after lost workers"), std::string::npos);
}

TEST_F(ReportTest, LeaderboardRanksCompletedTrialsFirst) {
  const std::string html = Render();
  const size_t start = html.find("<table id=\"leaderboard\">");
  const std::string table =
      html.substr(start, html.find("</table>", start) - start);
  // (rank, trial) per row, in order.
  const std::regex row(
      "<tr[^>]*><td class=\"num\">(\\d+)</td><td class=\"num\">(\\d+)</td>");
  std::vector<std::pair<int, int>> rows;
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row);
       it != std::sregex_iterator(); ++it) {
    rows.emplace_back(std::stoi((*it)[1]), std::stoi((*it)[2]));
  }
  // Trial 0 (complete, 0.9) before trial 5 (pruned, 0.95); 6 and 7 tie.
  const std::vector<std::pair<int, int>> expected = {
      {1, 0}, {2, 5}, {3, 1}, {4, 2}, {5, 9}, {6, 4}, {7, 3}, {8, 6}, {8, 7}};
  EXPECT_EQ(rows, expected);
  EXPECT_NE(table.find("<tr class=\"best\"><td class=\"num\">1</td>"),
            std::string::npos);
  EXPECT_NE(html.find("2 trials without a value not ranked"),
            std::string::npos);
}

TEST_F(ReportTest, OneCurvePerTrialWithMetricsAndTheBestHighlighted) {
  const std::string svg = Svg(Render(), "curves");
  // Trials 0-7 and 9; trial 8 has only a null objective, 10 no metrics.
  const std::vector<std::string> trials =
      Attributes(svg, "curve", "data-trial");
  EXPECT_EQ(
      std::set<std::string>(trials.begin(), trials.end()),
      (std::set<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "9"}));
  EXPECT_EQ(trials.size(), 9u);
  EXPECT_EQ(trials.back(), "0") << "the best is drawn last, on top";
  EXPECT_EQ(CountMatches(svg, "class=\"curve [^\"]*best[^\"]*\" data-trial"),
            1);
  EXPECT_NE(svg.find("class=\"curve complete best\" data-trial=\"0\""),
            std::string::npos);
  EXPECT_EQ(CountMatches(svg, "class=\"curve pruned\" data-trial"), 7);
  // Trial 1's null epoch splits its path into two sub-paths; trials with
  // one epoch are dots (a zero-length segment).
  EXPECT_TRUE(std::regex_search(
      svg, std::regex("data-trial=\"1\" d=\"M[^\"L]+M[^\"]+h0\"")));
  EXPECT_TRUE(
      std::regex_search(svg, std::regex("data-trial=\"3\" d=\"M[^\"L]+h0\"")));
  // Axes with ticks and labels.
  EXPECT_NE(svg.find(">epoch</text>"), std::string::npos);
  EXPECT_NE(svg.find(">val_accuracy</text>"), std::string::npos);
  EXPECT_GE(Count(svg, "class=\"tick-label\""), 6);
}

TEST_F(ReportTest, RungsCountEnteredAndPromotedTrials) {
  const std::string html = Render();
  const std::string svg = Svg(html, "rungs");
  // Bracket 0 (s = 2): 9 -> 3 -> 1; bracket 1 (s = 1): 2 -> 0; bracket 2
  // (s = 0, 3 planned) has none yet.
  EXPECT_EQ(Attributes(svg, "rung-entered", "data-count"),
            (std::vector<std::string>{"9", "3", "1", "2", "0", "0"}));
  EXPECT_EQ(Attributes(svg, "rung-promoted", "data-count"),
            (std::vector<std::string>{"3", "1", "0", "0", "0", "0"}));
  EXPECT_NE(svg.find("bracket 0 (s = 2)"), std::string::npos);
  EXPECT_NE(svg.find("9 entered, 3 promoted (plan 9)"), std::string::npos);
  EXPECT_NE(svg.find("2 entered, 0 promoted (plan 5)"), std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"rung-planned\""), 6);
  // The table: bracket 0, rung 0 at 1 epoch: 9 planned, 9 entered, 3
  // promoted, 0 complete, 5 pruned, 1 failed, 0 in progress.
  EXPECT_NE(html.find("<tr><td class=\"num\">0</td><td class=\"num\">0</td>"
                      "<td class=\"num\">1</td><td class=\"num\">9</td>"
                      "<td class=\"num\">9</td><td class=\"num\">3</td>"
                      "<td class=\"num\">0</td><td class=\"num\">5</td>"
                      "<td class=\"num\">1</td><td class=\"num\">0</td></tr>"),
            std::string::npos);
}

TEST_F(ReportTest, ParameterAxesFollowTheSearchSpace) {
  const std::string html = Render();
  const std::string lr = Svg(html, "param-lr");
  EXPECT_NE(lr.find("data-scale=\"log\""), std::string::npos);
  // Decades of the search space's range 1e-5..1e-1.
  for (const char* label : {">1e-5<", ">1e-4<", ">0.001<", ">0.01<", ">0.1<"}) {
    EXPECT_NE(lr.find(label), std::string::npos) << label;
  }
  EXPECT_NE(lr.find("lr (log scale)"), std::string::npos);
  EXPECT_NE(Svg(html, "param-batch_size").find("data-scale=\"log\""),
            std::string::npos);
  EXPECT_NE(Svg(html, "param-dropout").find("data-scale=\"linear\""),
            std::string::npos);
  const std::string scheduler = Svg(html, "param-scheduler");
  EXPECT_NE(scheduler.find("data-scale=\"category\""), std::string::npos);
  EXPECT_NE(scheduler.find(">&lt;cyclic&gt;<"), std::string::npos);
  EXPECT_NE(scheduler.find(">none<"), std::string::npos);
  // One point per trial with a value (9), the best one highlighted.
  EXPECT_EQ(Count(lr, "<circle class=\"point "), 9);
  EXPECT_EQ(Count(lr, "<circle class=\"point complete best\""), 1);
}

TEST_F(ReportTest, ParallelCoordinatesHaveOneLinePerTrialWithAValue) {
  const std::string svg = Svg(Render(), "parallel");
  EXPECT_NE(svg.find("data-axes=\"5\""), std::string::npos);
  EXPECT_EQ(Count(svg, "<path class=\"pc-line"), 9);
  EXPECT_EQ(Count(svg, "<path class=\"pc-line best\" data-trial=\"0\""), 1);
  // The best line is yellow (the top of the colour scale), the worst purple.
  EXPECT_NE(svg.find("data-trial=\"0\" stroke=\"#"), std::string::npos);
  EXPECT_NE(svg.find("data-trial=\"6\" stroke=\"#440154\""), std::string::npos);
  EXPECT_NE(svg.find("data-trial=\"5\" stroke=\"#fde725\""), std::string::npos);
}

TEST_F(ReportTest, ConfusionMatrixHasACellPerPairAndTheClassNames) {
  const std::string html = Render();
  const std::string svg = Svg(html, "confusion");
  EXPECT_EQ(Count(svg, "<rect class=\"cell"), 9);
  EXPECT_EQ(Count(svg, "<rect class=\"cell diagonal\""), 3);
  EXPECT_EQ(
      Attributes(svg, "cell", "data-count"),
      (std::vector<std::string>{"8", "1", "1", "2", "7", "1", "0", "1", "9"}));
  EXPECT_NE(svg.find(">rock &amp; roll</text>"), std::string::npos);
  EXPECT_NE(svg.find(">&lt;i&gt;metal&lt;/i&gt;</text>"), std::string::npos);
  EXPECT_NE(svg.find(">jazz</text>"), std::string::npos);
  EXPECT_NE(html.find("Trial 0 after 9 epochs, test split: accuracy 0.8 "
                      "(segments), 0.85 (tracks), loss 0.4"),
            std::string::npos);
}

TEST_F(ReportTest, TimelineHasOneBarPerAttemptInOneLanePerWorker) {
  const std::string svg = Svg(Render(), "timeline");
  EXPECT_EQ(Count(svg, "<rect class=\"attempt "), total_attempts_);
  EXPECT_EQ(Count(svg, "<rect class=\"attempt lost\""), 1);
  EXPECT_EQ(Count(svg, "<rect class=\"attempt running open\""), 1);
  EXPECT_NE(svg.find("data-lanes=\"2\""), std::string::npos);
  EXPECT_NE(svg.find("data-worker=\"w1\""), std::string::npos);
  EXPECT_NE(svg.find("data-worker=\"w2 &lt;b&gt;\""), std::string::npos);
  EXPECT_NE(svg.find(">w2 &lt;b&gt;</text>"), std::string::npos);
  EXPECT_NE(svg.find("worker w2 lost"), std::string::npos);
}

TEST_F(ReportTest, EscapesEveryText) {
  const std::string html = Render();
  ExpectWellFormed(html);
  EXPECT_NE(
      html.find("Tom&#39;s &lt;b&gt;test&lt;/b&gt; &amp; &quot;more&quot;"),
      std::string::npos);
  EXPECT_NE(html.find("diverged: loss is NaN &lt;at&gt; epoch 1 &amp; "
                      "&quot;lr&quot; too high"),
            std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<cyclic>"), std::string::npos);
  EXPECT_EQ(html.find("<at>"), std::string::npos);
}

TEST_F(ReportTest, OpenAttemptsOfARunningStudyReachNow) {
  ReportData data;
  {
    std::unique_ptr<Store> store = Store::Open(db_, true);
    data = ReadReportData(*store, *store->FindStudy("mini"));
  }
  data.study.state = "running";
  data.study.updated_at = kT0;  // The session started then.
  ReportOptions options;
  options.now = kT0 + 3600;
  const std::string html = RenderReport(data, options);
  ExpectWellFormed(html);
  EXPECT_NE(html.find("1:01:00 (still running)"), std::string::npos);
  EXPECT_NE(html.find("1 attempt is still open"), std::string::npos);
  const std::string svg = Svg(html, "timeline");
  // The open bar ends at the right edge (x = 880), an hour on.
  EXPECT_TRUE(std::regex_search(
      svg, std::regex("class=\"attempt running open\" x=\"([0-9.]+)\" "
                      "y=\"[0-9.]+\" width=\"([0-9.]+)\"")));
  std::smatch m;
  std::regex_search(svg, m,
                    std::regex("class=\"attempt running open\" x=\"([0-9.]+)\" "
                               "y=\"[0-9.]+\" width=\"([0-9.]+)\""));
  EXPECT_NEAR(std::stod(m[1]) + std::stod(m[2]), 880, 0.2);
  EXPECT_EQ(html.find("Not evaluated yet"), std::string::npos)
      << "an evaluation exists, so no note";
}

TEST_F(ReportTest, OddDataStillGivesAPage) {
  ReportData data;
  {
    std::unique_ptr<Store> store = Store::Open(db_, true);
    data = ReadReportData(*store, *store->FindStudy("mini"));
  }
  // NaN and infinite values, a metric row of an unknown trial, params that
  // are not an object, an attempt without a worker.
  data.trials[1].value = kNaN;
  data.trials[2].value = std::numeric_limits<double>::infinity();
  data.trials[3].params = json::array({1, 2});
  data.metrics.push_back(MetricRow{99, 1, 0, json::object(), 0.5, kT0});
  data.metrics.push_back(MetricRow{98, 1, 0, json::object(), kNaN, kT0});
  data.attempts.push_back(data.attempts.front());
  data.attempts.back().worker = "";
  data.evaluations[0].confusion = {{1, 2}, {3}};  // Ragged, 3 classes.
  const std::string html = RenderReport(data);
  ExpectWellFormed(html);
  // No NaN or infinity reaches a coordinate.
  EXPECT_EQ(CountMatches(html,
                         "(x|y|cx|cy|d|width|height|x1|x2|y1|y2)=\""
                         "[^\"]*(nan|inf|NaN|Inf)"),
            0);
  EXPECT_EQ(Count(Svg(html, "confusion"), "<rect class=\"cell"), 9);
  EXPECT_NE(html.find(">(no worker)</text>"), std::string::npos);
}

TEST_F(ReportTest, EmptyStudyGivesNotes) {
  ReportData data;
  data.study = Study("empty", "hyperband", Spec("empty", "hyperband").dump());
  data.study.state = "running";
  const std::string html = RenderReport(data);
  ExpectWellFormed(html);
  for (const char* id :
       {"curves", "param-lr", "parallel", "confusion", "timeline"}) {
    EXPECT_EQ(Svg(html, id), "") << id;
  }
  // The rungs show the plan: brackets of 9, 5 and 3 trials, none entered.
  const std::string rungs = Svg(html, "rungs");
  EXPECT_EQ(Count(rungs, "class=\"rung-planned\""), 6);
  EXPECT_EQ(Attributes(rungs, "rung-entered", "data-count"),
            std::vector<std::string>(6, "0"));
  EXPECT_NE(html.find("No trials yet."), std::string::npos);
  EXPECT_NE(html.find("No trial has reported an epoch yet."),
            std::string::npos);
  EXPECT_NE(html.find("No attempt has started yet."), std::string::npos);
  EXPECT_NE(html.find("Not evaluated yet"), std::string::npos);
  EXPECT_NE(html.find("No importance yet: study empty: no trial has a "
                      "val_accuracy value yet."),
            std::string::npos);
}

TEST_F(ReportTest, ImportanceHasABarPerParameterAndTheTopInteraction) {
  const std::string html = Render();
  const std::string svg = Svg(html, "importance");
  std::vector<std::string> params = Attributes(svg, "bar", "data-param");
  std::sort(params.begin(), params.end());
  EXPECT_EQ(params, (std::vector<std::string>{"batch_size", "dropout", "lr",
                                              "scheduler"}));
  double sum = 0;
  for (const std::string& v : Attributes(svg, "bar", "data-importance")) {
    sum += std::stod(v);
  }
  EXPECT_NEAR(sum, 1.0, 0.01);  // Four significant digits each.
  // Epoch 1: the largest epoch that the 9 trials with a value reached.
  EXPECT_NE(html.find("explains val_accuracy after epoch 1 (9 trials"),
            std::string::npos);
  EXPECT_NE(html.find("id=\"top-interaction\">Largest interaction: <strong>"),
            std::string::npos);
}

// The live page (hpo-report --serve): a progress line and the updating
// script; the static page has neither.
TEST_F(ReportTest, LivePageHasAProgressLineAndItsScript) {
  ReportOptions live;
  live.live_interval_s = 1.5;
  const std::string html = Render("mini", live);
  ExpectWellFormed(html);
  EXPECT_NE(html.find("<p class=\"caption live\" id=\"progress\">study mini: "
                      "complete, 11 trials (1 complete, 7 pruned, 1 failed, 1 "
                      "running, 1 queued), "),
            std::string::npos);
  EXPECT_NE(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("setInterval(update, 1500)"), std::string::npos);
  EXPECT_EQ(html.find("http"), html.find("http://www.w3.org/2000/svg"))
      << "the script fetches from where the page came, nothing else";
  const std::string still = Render();
  EXPECT_EQ(still.find("id=\"progress\""), std::string::npos);
  EXPECT_EQ(still.find("<script"), std::string::npos);
}

TEST(ServeAddressTest, HostDefaultsToLoopbackAndPortZeroIsAnyPort) {
  EXPECT_EQ(ParseServeAddress("8080"),
            (std::pair<std::string, int>{"127.0.0.1", 8080}));
  EXPECT_EQ(ParseServeAddress("0.0.0.0:0"),
            (std::pair<std::string, int>{"0.0.0.0", 0}));
  EXPECT_EQ(ParseServeAddress("[::1]:9000"),
            (std::pair<std::string, int>{"::1", 9000}));
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("localhost"));
  EXPECT_TRUE(IsLoopback("::1"));
  EXPECT_FALSE(IsLoopback("0.0.0.0"));
  EXPECT_FALSE(IsLoopback("10.0.0.7"));
  EXPECT_THROW(ParseServeAddress(":80"), Error);
  EXPECT_THROW(ParseServeAddress("[::1]"), Error);
}

TEST_F(ReportTest, OneTrialStudy) {
  ReportData data;
  data.study = Study("one", "random", Spec("one", "random").dump());
  TrialRow t;
  t.number = 0;
  t.state = TrialState::kComplete;
  t.params = Params(0);
  t.epochs = 1;
  t.value = 0.5;
  data.trials.push_back(t);
  data.metrics.push_back(MetricRow{0, 1, 1, json::object(), 0.5, kT0 + 1});
  AttemptRow a;
  a.trial = 0;
  a.worker = "solo";
  a.state = "done";
  a.started_at = kT0;
  a.ended_at = kT0;  // Zero length: still a visible bar.
  data.attempts.push_back(a);
  const std::string html = RenderReport(data);
  ExpectWellFormed(html);
  EXPECT_EQ(Count(Svg(html, "curves"), "data-trial=\"0\""), 1);
  EXPECT_EQ(Count(Svg(html, "param-lr"), "<circle class=\"point"), 1);
  EXPECT_EQ(Count(Svg(html, "timeline"), "<rect class=\"attempt done\""), 1);
  EXPECT_TRUE(std::regex_search(
      Svg(html, "timeline"), std::regex("class=\"attempt done\" x=\"[0-9.]+\" "
                                        "y=\"[0-9.]+\" width=\"1\"")));
  EXPECT_NE(html.find("search has no rungs"), std::string::npos);
  EXPECT_NE(html.find("No evaluation recorded"), std::string::npos);
}

TEST_F(ReportTest, OtherAlgorithmsAndUnreadableStudyFiles) {
  {
    std::unique_ptr<Store> store = Store::Open(db_);
    Write(*store, "asha_study", "asha");
    Write(*store, "median_study", "median");
    Write(*store, "random_study", "random");
    StudyRow broken = Study("broken", "hyperband", "{not json");
    store->CreateStudy(broken);
    store->Commit();
  }
  const std::string asha = Render("asha_study");
  ExpectWellFormed(asha);
  EXPECT_NE(asha.find("ASHA promotes asynchronously"), std::string::npos);
  EXPECT_NE(Svg(asha, "rungs").find("bracket 0 (early-stopping rate 0)"),
            std::string::npos);
  // ASHA's bracket 0 has rungs at 1, 3 and 9 epochs; no plan marks.
  EXPECT_EQ(Count(Svg(asha, "rungs"), "rung-planned"), 0);
  EXPECT_NE(Render("median_study").find("Median stopping has no rungs"),
            std::string::npos);
  EXPECT_NE(Render("random_study").find("The random search has no rungs"),
            std::string::npos);
  const std::string broken = Render("broken");
  ExpectWellFormed(broken);
  EXPECT_NE(broken.find("does not validate"), std::string::npos);
}

TEST_F(ReportTest, SyntheticTrainerExplainsTheMissingConfusionMatrix) {
  ReportData data;
  json spec = Spec("synth", "hyperband");
  spec["trainer"] = {{"model", "synthetic"}};
  data.study = Study("synth", "hyperband", spec.dump());
  const std::string html = RenderReport(data);
  EXPECT_NE(html.find("the synthetic trainer has no data to evaluate on"),
            std::string::npos);
}

// --- Population-based training ---

// A PBT study of four members, 12 epochs in intervals of 4, written
// through the store:
//   after epoch 4: trial 2 takes trial 0's checkpoint (lr and optimizer
//     change), trial 3 takes trial 1's (lr);
//   after epoch 8: trial 3 takes trial 2's (dropout), trial 1 takes
//     trial 0's with no parameter changed.
// So trial 3 carries its own weights for epochs 1-4, trial 1's for 5-8 and
// trial 0's (through trial 2) for 9-12.
void WritePbt(Store& store) {
  const json spec = {
      {"name", "pbt"},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"trainer", {{"model", "synthetic"}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-4}, {"high", 1e-1}}},
        {"dropout", {{"type", "uniform"}, {"low", 0.0}, {"high", 0.5}}},
        {"optimizer", {{"type", "choice"}, {"values", {"adam", "sgd"}}}}}},
      {"algorithm",
       {{"type", "pbt"},
        {"population", 4},
        {"interval", 4},
        {"max_epochs", 12}}},
  };
  const int64_t id = store.CreateStudy(Study("pbt", "pbt", spec.dump(2)));
  auto params = [](double lr, double dropout, const char* optimizer) {
    return json{{"lr", lr}, {"dropout", dropout}, {"optimizer", optimizer}};
  };
  const json initial[] = {params(0.01, 0.1, "adam"), params(0.02, 0.2, "adam"),
                          params(0.001, 0.3, "sgd"),
                          params(0.0005, 0.4, "sgd")};
  struct Plan {
    int64_t trial;
    int epoch;
    int64_t parent;
    json old_params, new_params;
  };
  const std::vector<Plan> plans = {
      {2, 4, 0, initial[2], params(0.012, 0.1, "adam")},
      {3, 4, 1, initial[3], params(0.016, 0.2, "adam")},
      {3, 8, 2, params(0.016, 0.2, "adam"), params(0.012, 0.08, "adam")},
      {1, 8, 0, initial[1], initial[0]},
  };
  for (const Plan& p : plans) {
    ExploitRow x;
    x.trial = p.trial;
    x.epoch = p.epoch;
    x.parent = p.parent;
    x.parent_epoch = p.epoch;
    x.old_params = p.old_params;
    x.new_params = p.new_params;
    x.recorded_at = kT0 + p.epoch;
    store.AddExploit(id, x);
  }
  for (int64_t n = 0; n < 4; ++n) {
    TrialRow row;
    row.number = n;
    row.state = TrialState::kComplete;
    row.params = initial[n];
    row.epochs = 12;
    row.attempts = 3;
    row.value = 0.5 + 0.01 * static_cast<double>(n);
    row.best_value = row.value;
    row.worker = "w1";
    row.updated_at = kT0 + 50;
    store.PutTrial(id, row);
    for (int e = 1; e <= 12; ++e) {
      MetricRow m;
      m.trial = n;
      m.epoch = e;
      m.objective = 0.3 + 0.02 * e + 0.01 * static_cast<double>(n);
      m.metrics = {{"val_accuracy", *m.objective}};
      m.recorded_at = kT0 + e;
      store.PutMetrics(id, m);
    }
  }
}

TEST_F(ReportTest, NoPbtSectionWithoutExploits) {
  const std::string html = Render();
  EXPECT_EQ(html.find("id=\"s-pbt\""), std::string::npos);
  EXPECT_EQ(html.find("#s-pbt"), std::string::npos);
  EXPECT_EQ(html.find("id=\"lineage\""), std::string::npos);
  EXPECT_EQ(html.find("pbt-param-"), std::string::npos);
}

TEST_F(ReportTest, PbtSectionPlotsEachMutatedParameterByEpoch) {
  {
    std::unique_ptr<Store> store = Store::Open(db_);
    WritePbt(*store);
  }
  const std::string html = Render("pbt");
  ExpectWellFormed(html);
  EXPECT_NE(html.find("<section id=\"s-pbt\">"), std::string::npos);
  EXPECT_NE(html.find("<a href=\"#s-pbt\">"), std::string::npos);
  EXPECT_NE(html.find("4 exploits: 3 members of 4"), std::string::npos);
  EXPECT_LT(html.find("id=\"s-curves\""), html.find("id=\"s-pbt\""));
  // Every parameter some exploit changed, on the axis its search space
  // asks for.
  const std::string lr = Svg(html, "pbt-param-lr");
  const std::string dropout = Svg(html, "pbt-param-dropout");
  const std::string optimizer = Svg(html, "pbt-param-optimizer");
  ASSERT_FALSE(lr.empty());
  ASSERT_FALSE(dropout.empty());
  ASSERT_FALSE(optimizer.empty());
  EXPECT_NE(lr.find("data-scale=\"log\""), std::string::npos);
  EXPECT_NE(lr.find("lr (log scale)"), std::string::npos);
  EXPECT_NE(dropout.find("data-scale=\"linear\""), std::string::npos);
  EXPECT_NE(optimizer.find("data-scale=\"category\""), std::string::npos);
  EXPECT_NE(optimizer.find(">adam</text>"), std::string::npos);
  EXPECT_NE(optimizer.find(">sgd</text>"), std::string::npos);
  // One step line per member, a marker per exploit; a member never
  // exploited (trial 0) is flat, one exploited twice steps twice.
  for (const std::string* svg : {&lr, &dropout, &optimizer}) {
    EXPECT_EQ(Count(*svg, "<path class=\"pbt-step\""), 4);
    EXPECT_EQ(Count(*svg, "<circle class=\"exploit-marker\""), 4);
  }
  const std::vector<std::string> d = Attributes(lr, "pbt-step", "d");
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(Count(d[0], "V"), 0) << d[0];
  EXPECT_EQ(Count(d[3], "V"), 2) << d[3];
  // Each member has its own colour, the same in every plot.
  const std::vector<std::string> colours = Attributes(lr, "pbt-step", "stroke");
  EXPECT_EQ(std::set<std::string>(colours.begin(), colours.end()).size(), 4u);
  EXPECT_EQ(Attributes(dropout, "pbt-step", "stroke"), colours);
}

TEST_F(ReportTest, PbtCurvesAreColouredByTheFoundingMember) {
  {
    std::unique_ptr<Store> store = Store::Open(db_);
    WritePbt(*store);
  }
  const std::string svg = Svg(Render("pbt"), "lineage");
  ASSERT_FALSE(svg.empty());
  EXPECT_NE(svg.find("data-members=\"4\""), std::string::npos);
  // The founders of each member's stretches, in epoch order.
  std::map<std::string, std::vector<std::string>> founders;
  const std::regex re(
      "class=\"lineage-segment\" data-trial=\"(\\d+)\" "
      "data-founder=\"(\\d+)\"");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re);
       it != std::sregex_iterator(); ++it) {
    founders[(*it)[1]].push_back((*it)[2]);
  }
  EXPECT_EQ(founders["0"], (std::vector<std::string>{"0"}));
  EXPECT_EQ(founders["1"], (std::vector<std::string>{"1", "0"}));
  EXPECT_EQ(founders["2"], (std::vector<std::string>{"2", "0"}));
  EXPECT_EQ(founders["3"], (std::vector<std::string>{"3", "1", "0"}));
  // Founder 0's colour is member 0's.
  const std::string zero =
      Attributes(svg, "lineage-segment\" data-trial=\"0", "stroke").at(0);
  const std::vector<std::string> ours =
      Attributes(svg, "lineage-segment\" data-trial=\"3", "stroke");
  ASSERT_EQ(ours.size(), 3u);
  EXPECT_EQ(ours[2], zero);
  EXPECT_NE(ours[0], zero);
  // A stretch starts at the exploit's epoch: trial 3's third starts at
  // epoch 8 (x of epoch 8 on a 0..12 axis from 70 to 750).
  const std::vector<std::string> d =
      Attributes(svg, "lineage-segment\" data-trial=\"3", "d");
  EXPECT_EQ(d[2].rfind("M523.3 ", 0), 0u) << d[2];
  EXPECT_EQ(Count(svg, "<circle class=\"exploit-marker\""), 4);
  EXPECT_NE(svg.find("trial 3 after epoch 8: took trial 2&#39;s checkpoint "
                     "(epoch 8); dropout 0.2 \xE2\x86\x92 0.08; lr 0.016 "
                     "\xE2\x86\x92 0.012"),
            std::string::npos);
}

// --- The hpo-report binary ---

TEST_F(ReportTest, CommandWritesTheReport) {
  const std::string out = scratch_.path() + "/report.html";
  auto r =
      RunCommand({HPO_REPORT, "--db", db_, "--study", "mini", "--out", out},
                 scratch_.path());
  EXPECT_EQ(r.code, 0) << r.err;
  const std::string html = ReadFile(out);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("id=\"timeline\""), std::string::npos);
  EXPECT_NE(r.err.find("report of study \"mini\""), std::string::npos);
  // The database holds one study, so --study may be left out; "-" is stdout.
  r = RunCommand({HPO_REPORT, "--db", db_, "--out", "-"}, scratch_.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("<h1>Study mini</h1>"), std::string::npos);
  r = RunCommand({HPO_REPORT, "--help"}, scratch_.path());
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--study"), std::string::npos);
}

TEST_F(ReportTest, CommandErrorsAreOneLineAndExitTwo) {
  {
    std::unique_ptr<Store> store = Store::Open(db_);
    Write(*store, "lr_sweep", "hyperband");
    store->Commit();
  }
  const std::string out = scratch_.path() + "/report.html";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--db", scratch_.path() + "/nope.db", "--study", "mini", "--out", out},
       "nope.db: no such file"},
      {{"--db", db_, "--study", "lr_sweeep", "--out", out},
       "no study named \"lr_sweeep\" (did you mean \"lr_sweep\"?); it holds "
       "mini, lr_sweep"},
      {{"--db", db_, "--out", out}, "holds 2 studies (mini, lr_sweep)"},
      {{"--db", db_, "--study", "mini"}, "--out FILE.html is required"},
      {{"--study", "mini", "--out", out}, "--db FILE is required"},
      {{"--db", db_, "--study", "mini", "--out", out, "--colour", "red"},
       "unrecognised option"},
      {{"--db", db_, "--study", "mini", "--out", out, "extra"},
       "unexpected argument \"extra\""},
      {{"--db", db_, "--study", "mini", "--out", out, "--top", "0"},
       "--top 0: must be at least 1"},
      {{"--db", db_, "--study", "mini", "--serve", "localhost:http"},
       "--serve localhost:http: expected [HOST:]PORT"},
      {{"--db", db_, "--study", "mini", "--serve", "70000"},
       "--serve 70000: expected [HOST:]PORT"},
      {{"--db", db_, "--study", "mini", "--serve", "0", "--out", out},
       "--serve and --out: either serve a live page or write a file"},
      {{"--db", db_, "--study", "mini", "--serve", "0", "--interval", "0"},
       "--interval 0.000000: expected 0.1 to 3600 seconds"},
      {{"--db", db_, "--study", "mini", "--serve", "192.0.2.1:0"},
       "--serve 192.0.2.1:0: cannot listen on 192.0.2.1"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {HPO_REPORT};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = RunCommand(argv, scratch_.path());
    EXPECT_EQ(r.code, 2) << c.message << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(Count(r.err, "\n"), 1) << "one line: " << r.err;
    EXPECT_FALSE(std::filesystem::exists(out)) << c.message;
  }
  // An unwritable --out is a runtime failure (exit 1), not bad input.
  auto r = RunCommand({HPO_REPORT, "--db", db_, "--study", "mini", "--out",
                       scratch_.path() + "/no/such/dir/report.html"},
                      scratch_.path());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot create"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hpo
