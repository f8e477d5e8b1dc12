// Every seed study under studies/ (seed*.json) run end to end as its
// description says: the hpo-prep command the description gives, run on
// `hpo-prep synth` audio at the study's sample rate (or, for a
// features-csv study, on a features.csv written here in FMA's layout), then
// the study itself on a real coordinator and two LibTorch CPU workers over
// ZeroMQ on loopback, test evaluation included. Only the budget is cut (2
// trials, eta for ASHA, of at most eta epochs, 4 classes x 3 tracks); the
// model, its input shapes, the preprocessing (augmentation included) and
// the search space are the study's own.
// Files are found by listing the directory, so a new seed study is covered
// without touching this test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/store.h"
#include "features/csv.h"
#include "tests/util/fma_features.h"
#include "tests/util/process.h"
#include "tests/util/process_cluster.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/study_checks.h"

namespace hpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testutil::ReadFile;
using testutil::RunCommand;

std::vector<std::string> SeedStudies() {
  std::vector<std::string> names;
  for (const auto& entry :
       fs::directory_iterator(std::string(HPO_SOURCE_DIR) + "/studies")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("seed", 0) == 0 && entry.path().extension() == ".json") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The words of the first "hpo-prep ..." command in `text`, up to and with
// the value of its --out (a final '.' or ';' of the sentence dropped).
std::vector<std::string> PrepCommand(const std::string& text) {
  std::vector<std::string> words;
  const size_t at = text.find("hpo-prep ");
  if (at == std::string::npos) return words;
  std::istringstream in(text.substr(at));
  std::string word;
  while (in >> word) {
    const bool value_of_out = !words.empty() && words.back() == "--out";
    if (value_of_out) {
      while (!word.empty() &&
             (word.back() == '.' || word.back() == ';' || word.back() == ',')) {
        word.pop_back();
      }
    }
    words.push_back(word);
    if (value_of_out) break;
  }
  return words;
}

// The value after `option` in `words`, or `fallback`.
std::string OptionValue(const std::vector<std::string>& words,
                        const std::string& option,
                        const std::string& fallback) {
  auto it = std::find(words.begin(), words.end(), option);
  return it != words.end() && it + 1 != words.end() ? *(it + 1) : fallback;
}

// FMA's features.csv for the tracks of synth's tracks.csv: three header
// rows (feature, statistics, number) over the real 518 columns, then one
// row per track whose values depend on its genre, so the mlp has something
// to learn.
void WriteFeaturesCsv(const std::string& tracks_csv, const std::string& out) {
  std::ifstream in(tracks_csv);
  features::CsvReader reader(in, tracks_csv);
  std::vector<std::string> fields;
  std::vector<std::vector<std::string>> header;
  int genre_column = -1;
  std::vector<std::pair<std::string, std::string>> tracks;  // id, genre.
  while (reader.Next(&fields)) {
    if (header.size() < 3) {
      header.push_back(fields);
      for (size_t c = 0; c < fields.size(); ++c) {
        if (fields[c] == "genre_top") genre_column = static_cast<int>(c);
      }
      continue;
    }
    ASSERT_GT(genre_column, 0) << tracks_csv;
    tracks.emplace_back(fields[0], fields[static_cast<size_t>(genre_column)]);
  }
  std::string rows[3] = {"feature", "statistics", "number"};
  int columns = 0;
  for (const testutil::FmaFeatureColumn& c : testutil::FmaFeatureColumns()) {
    rows[0] += "," + c.feature;
    rows[1] += "," + c.statistics;
    rows[2] += "," + c.number;
    ++columns;
  }
  ASSERT_EQ(columns, 518);
  std::vector<std::string> genres;
  std::ofstream csv(out);
  csv << rows[0] << "\n" << rows[1] << "\n" << rows[2] << "\n";
  for (const auto& [id, genre] : tracks) {
    auto g = std::find(genres.begin(), genres.end(), genre);
    if (g == genres.end()) g = genres.insert(genres.end(), genre);
    const int cls = static_cast<int>(g - genres.begin());
    csv << id;
    for (int c = 0; c < columns; ++c) {
      const double noise = ((std::stoll(id) * 7919 + c * 104729) % 1000) / 1e3;
      csv << "," << (c % 8 == cls ? 2.0 : 0.0) + noise;
    }
    csv << "\n";
  }
}

class SeedStudyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SeedStudyTest, RunsEndToEndWithItsOwnPreprocessing) {
  const std::string name = GetParam();
  const std::string file =
      std::string(HPO_SOURCE_DIR) + "/studies/" + name + ".json";
  json study = json::parse(ReadFile(file));
  const std::string description = study.value("description", "");
  const std::vector<std::string> prep = PrepCommand(description);
  ASSERT_GE(prep.size(), 4u)
      << file << ": the description gives no hpo-prep command";
  const std::string command = prep[1];
  ASSERT_TRUE(command == "fma" || command == "features-csv") << command;
  const std::string out = OptionValue(prep, "--out", "");
  ASSERT_EQ(study["data"]["shards"], out)
      << file << ": the hpo-prep command writes elsewhere than data.shards";

  testutil::ScratchDir scratch("seed_study");
  const std::string dir = scratch.path();
  const std::string rate = OptionValue(prep, "--sample-rate", "22050");
  auto r = RunCommand({HPO_PREP, "synth", "--out", dir + "/synth", "--classes",
                       "4", "--tracks-per-class", "3", "--seconds", "30",
                       "--sample-rate", rate, "--seed", "5"},
                      dir);
  ASSERT_EQ(r.code, 0) << r.err;
  if (command == "features-csv") {
    WriteFeaturesCsv(dir + "/synth/tracks.csv", dir + "/synth/features.csv");
  }
  // The description's command with this machine's paths: the metadata and
  // audio that synth wrote, the output under the workers' --data.
  std::vector<std::string> argv = {HPO_PREP};
  for (size_t i = 1; i < prep.size(); ++i) {
    argv.push_back(prep[i]);
    if (i + 1 >= prep.size()) continue;
    if (prep[i] == "--metadata") {
      argv.push_back(command == "fma" ? dir + "/synth/tracks.csv"
                                      : dir + "/synth");
      ++i;
    } else if (prep[i] == "--audio") {
      argv.push_back(dir + "/synth/audio");
      ++i;
    } else if (prep[i] == "--out") {
      argv.push_back(dir + "/data/" + out);
      ++i;
    }
  }
  r = RunCommand(argv, dir);
  std::string shown;
  for (const std::string& word : argv) shown += word + " ";
  ASSERT_EQ(r.code, 0) << shown << "\n" << r.err;

  // The shards hold what the study's preprocessing makes.
  const json manifest =
      json::parse(ReadFile(dir + "/data/" + out + "/manifest.json"));
  const json& pre = manifest["preprocessing"];
  if (command == "fma") {
    const int64_t mels = std::stoll(OptionValue(prep, "--n-mels", "128"));
    const int64_t frames = std::stoll(OptionValue(prep, "--frames", "128"));
    const int64_t n_fft = std::stoll(OptionValue(prep, "--n-fft", "2048"));
    const int64_t hop = std::stoll(OptionValue(prep, "--hop", "512"));
    const std::string features = OptionValue(prep, "--features", "mel");
    const json stft = {1, n_fft / 2 + 1, frames};
    const json wave = {1, frames * hop};
    EXPECT_EQ(manifest["kind"], features);
    if (features == "mel") {
      EXPECT_EQ(manifest["sample_shape"], json({1, mels, frames}));
    } else if (features == "stft") {
      EXPECT_EQ(manifest["sample_shape"], stft);
    } else if (features == "wave") {
      EXPECT_EQ(manifest["sample_shape"], wave);
    } else {
      ASSERT_EQ(features, "stft+wave");
      EXPECT_EQ(manifest["sample_shape"],
                json({(n_fft / 2 + 1) * frames + frames * hop}));
      ASSERT_EQ(manifest["parts"].size(), 2u);
      EXPECT_EQ(manifest["parts"][0]["shape"], stft);
      EXPECT_EQ(manifest["parts"][1]["shape"], wave);
    }
    EXPECT_EQ(pre["sample_rate"], std::stoll(rate)) << pre;
    EXPECT_EQ(pre["n_fft"], n_fft);
    EXPECT_EQ(pre["hop"], hop);
    // "all": as many as fit in synth's 30 s clips.
    const std::string segments_option = OptionValue(prep, "--segments", "3");
    const int64_t step = std::max<int64_t>(
        1, std::lround(frames *
                       (1 - std::stod(OptionValue(prep, "--overlap", "0")))));
    const int64_t segments =
        segments_option == "all"
            ? 1 + (30 * std::stoll(rate) / hop - frames) / step
            : std::stoll(segments_option);
    // One copy per value of --pitch-shift and --tempo, training clips only.
    int64_t copies = 0;
    for (const char* flag : {"--pitch-shift", "--tempo"}) {
      const std::string list = OptionValue(prep, flag, "");
      if (!list.empty()) {
        copies += 1 + std::count(list.begin(), list.end(), ',');
      }
    }
    const json& training = manifest["splits"]["training"];
    const int64_t tracks = training["tracks"].get<int64_t>();
    EXPECT_EQ(training["samples"].get<int64_t>(),
              segments * tracks * (1 + copies));
    EXPECT_EQ(training["augmented_samples"].get<int64_t>(),
              segments * tracks * copies);
    EXPECT_EQ(manifest["splits"]["validation"]["augmented_samples"], 0);
  } else {
    EXPECT_EQ(manifest["sample_shape"], json({518}));
  }

  // Only the budget is cut: the fewest epochs the study's own algorithm
  // accepts (one rung of eta epochs above one epoch for the bandits).
  json& algorithm = study["algorithm"];
  if (algorithm.contains("min_epochs")) {
    algorithm["min_epochs"] = 1;
    algorithm["max_epochs"] = algorithm.value("eta", 3);
  } else {
    algorithm["max_epochs"] = 2;
  }
  if (algorithm.contains("iterations")) algorithm["iterations"] = 1;
  // ASHA promotes the best 1 / eta of a rung, so eta trials let one finish.
  const int64_t trials =
      algorithm["type"] == "asha" ? algorithm.value("eta", 3) : 2;
  study["budget"] = {{"max_trials", trials}};
  study["execution"]["heartbeat_s"] = 0.5;
  const std::string study_path = dir + "/study.json";
  std::ofstream(study_path) << study.dump(2);
  const std::string db = dir + "/results.db";
  const std::string logs = testutil::RunStudyOnTwoCpuWorkers(
      study_path, db, dir + "/data", dir, 400);
  if (HasFailure()) return;

  auto store = Store::Open(db, /*read_only=*/true);
  const int64_t id = store->FindStudy(study["name"])->id;
  const std::vector<TrialRow> rows = store->Trials(id);
  ASSERT_EQ(static_cast<int64_t>(rows.size()), trials) << logs;
  for (const TrialRow& t : rows) {
    EXPECT_NE(t.state, TrialState::kFailed)
        << "trial " << t.number << ": " << t.error << "\n"
        << logs;
  }
  std::vector<EvaluationRow> evaluations = store->Evaluations(id);
  ASSERT_EQ(evaluations.size(), 1u) << logs;
  EXPECT_EQ(evaluations[0].state, "done") << evaluations[0].error;
  EXPECT_EQ(evaluations[0].split, "test");
  EXPECT_GT(evaluations[0].samples, 0);
  std::cout << name << ": best trial " << evaluations[0].trial
            << ", test accuracy " << evaluations[0].accuracy.value_or(-1)
            << "\n";
}

INSTANTIATE_TEST_SUITE_P(Studies, SeedStudyTest,
                         ::testing::ValuesIn(SeedStudies()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace hpo
