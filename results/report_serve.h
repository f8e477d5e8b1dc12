// hpo-report --serve: the report as a live page over HTTP (cpp-httplib),
// rendered afresh from a read-only snapshot of the results database for
// every request, so it follows a study while the coordinator writes it.
#ifndef HPO_RESULTS_REPORT_SERVE_H_
#define HPO_RESULTS_REPORT_SERVE_H_

#include <string>

namespace hpo {

struct ServeOptions {
  std::string db;
  std::string study;      // Empty: the only study in the database.
  std::string address;    // [HOST:]PORT as given; HOST defaults to 127.0.0.1.
  double interval_s = 2;  // How often the page asks for an update.
  int leaderboard_rows = 25;
};

// The host and port of `address` ("8080", "0.0.0.0:8080", "[::1]:8080";
// port 0: any free port). Throws hpo::Error (bad input) naming --serve.
std::pair<std::string, int> ParseServeAddress(const std::string& address);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopback(const std::string& host);

// Serves until SIGINT or SIGTERM: GET / (and /index.html) is the live
// report, GET /report.html the same page without the script (a static
// snapshot, as hpo-report --out writes). Prints the URL on standard output
// once listening, and a warning on standard error when HOST is not a
// loopback address. Throws hpo::Error (bad input) when the address cannot
// be bound. Returns the exit code.
int ServeReport(const ServeOptions& options);

}  // namespace hpo

#endif  // HPO_RESULTS_REPORT_SERVE_H_
