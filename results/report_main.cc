// hpo-report: writes one self-contained HTML page about a study.
//
// The database is opened read-only, as hpo-query opens it: hpo-report never
// writes to it and can run while hpo-coordinator records the study (the
// report then shows the study as far as it has got). The page is written to
// a temporary file beside --out and renamed over it, so a browser that
// reloads the page never sees half of it.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "common/command_line.h"
#include "common/error.h"
#include "common/json_util.h"
#include "common/store.h"
#include "results/db_args.h"
#include "results/db_options.h"
#include "results/report.h"
#include "results/report_serve.h"

namespace po = boost::program_options;

namespace {

using hpo::CheckDatabaseFile;
using hpo::ResolveStudy;

constexpr char kUsage[] =
    "Usage: hpo-report --db FILE [--study NAME] --out FILE.html [--top N]\n"
    "       hpo-report --db FILE [--study NAME] --serve [HOST:]PORT "
    "[--interval S]\n";

// Writes `html` to `path` through a temporary file in the same directory
// ("-": standard output). Throws hpo::Error (runtime) naming the file.
void WritePage(const std::string& path, const std::string& html) {
  if (path == "-") {
    std::cout << html;
    std::cout.flush();
    if (!std::cout) {
      throw hpo::RuntimeFailure(std::string("cannot write the report: ") +
                                std::strerror(errno));
    }
    return;
  }
  const std::string temporary =
      path + ".tmp-" + std::to_string(static_cast<long long>(getpid()));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw hpo::RuntimeFailure(path + ": cannot create " + temporary + ": " +
                                std::strerror(errno) +
                                "; check that its folder exists and is "
                                "writable, or pass another --out");
    }
    out << html;
    out.flush();
    if (!out) {
      const std::string why = std::strerror(errno);
      std::remove(temporary.c_str());
      throw hpo::RuntimeFailure(path + ": cannot write: " + why);
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::remove(temporary.c_str());
    throw hpo::RuntimeFailure(path + ": cannot write: " + error.message());
  }
}

int Main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help and exit");
  hpo::AddDbOptions(options);
  options.add_options()(
      "out", po::value<std::string>(),
      "the HTML file to write (required; - for standard output)")(
      "top", po::value<int>()->default_value(25),
      "how many trials the leaderboard lists")(
      "serve", po::value<std::string>(),
      "serve a live page at [HOST:]PORT instead of writing a file (HOST "
      "127.0.0.1 unless given; port 0: any free one)")(
      "interval", po::value<double>()->default_value(2.0),
      "--serve: seconds between the page's updates");
  // Positional arguments are collected only to be refused.
  po::options_description all;
  all.add(options).add_options()("positional",
                                 po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("positional", -1);
  const po::variables_map vm =
      hpo::ParseCommandLine("hpo-report", argc, argv, all, &positional);
  if (vm.count("positional")) {
    throw hpo::BadInput(
        "hpo-report: unexpected argument \"" +
        vm["positional"].as<std::vector<std::string>>()[0] +
        "\"; options are --db FILE, --study NAME, --out FILE.html or --serve "
        "[HOST:]PORT, --top N and --interval S (see --help)");
  }
  if (vm.count("help")) {
    std::cout << kUsage
              << "\nWrites one self-contained HTML page about a study: the "
                 "leaderboard, learning\ncurves, rungs, the objective against "
                 "each hyperparameter, parallel\ncoordinates, the best trial's "
                 "confusion matrix and a timeline of the workers.\nThe "
                 "database is opened read-only; safe while hpo-coordinator "
                 "writes to it.\n\n"
              << options;
    return 0;
  }
  const std::string db = hpo::RequireDbArg(
      "hpo-report", vm.count("db") ? &vm["db"].as<std::string>() : nullptr);
  const int top = vm["top"].as<int>();
  if (top < 1) {
    throw hpo::BadInput("hpo-report: --top " + std::to_string(top) +
                        ": must be at least 1");
  }
  if (vm.count("serve")) {
    if (vm.count("out")) {
      throw hpo::BadInput(
          "hpo-report: --serve and --out: either serve a live page or write "
          "a file, not both");
    }
    hpo::ServeOptions serve;
    serve.db = db;
    serve.study = vm.count("study") ? vm["study"].as<std::string>() : "";
    serve.address = vm["serve"].as<std::string>();
    serve.interval_s = vm["interval"].as<double>();
    serve.leaderboard_rows = top;
    if (!(serve.interval_s >= 0.1 && serve.interval_s <= 3600)) {
      throw hpo::BadInput("hpo-report: --interval " +
                          std::to_string(serve.interval_s) +
                          ": expected 0.1 to 3600 seconds, e.g. 2");
    }
    hpo::ParseServeAddress(serve.address);  // Bad input before anything.
    return hpo::ServeReport(serve);
  }
  if (!vm.count("out") || vm["out"].as<std::string>().empty()) {
    throw hpo::BadInput(
        "hpo-report: --out FILE.html is required: where to write the report "
        "(- for standard output), or --serve [HOST:]PORT for a live page");
  }
  const std::string out = vm["out"].as<std::string>();
  CheckDatabaseFile(db);
  std::unique_ptr<hpo::Store> store = hpo::Store::Open(db, /*read_only=*/true);
  store->BeginSnapshot();  // Every part of the page from one state.
  const hpo::StudyRow study = ResolveStudy(
      *store, db, vm.count("study") ? vm["study"].as<std::string>() : "");
  const hpo::ReportData data = hpo::ReadReportData(*store, study);
  hpo::ReportOptions report_options;
  report_options.leaderboard_rows = top;
  report_options.now = std::chrono::duration<double>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  WritePage(out, hpo::RenderReport(data, report_options));
  if (out != "-") {
    std::cerr << out << ": report of study \"" << study.name << "\" ("
              << data.trials.size() << " trials, " << study.state << ")\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return hpo::RunMain("hpo-report", [&] { return Main(argc, argv); });
}
