#include "results/report_serve.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/parse_int.h"
#include "common/store.h"
#include "results/db_args.h"
#include "results/report.h"
#include "results/report_format.h"

namespace hpo {
namespace {

double WallTime() {
  return std::chrono::duration<double>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A page that says why there is no report yet (no database, no study) and,
// live, keeps asking, so it turns into the report once the coordinator has
// written the study.
std::string WaitingPage(const std::string& why, double interval_s) {
  ReportData data;
  data.study.name = "(none yet)";
  data.study.state = "waiting";
  ReportOptions options;
  options.live_interval_s = interval_s;
  std::string page = RenderReport(data, options);
  const std::string marker = "<p class=\"caption live\" id=\"progress\">";
  const size_t at = page.find(marker);
  if (at != std::string::npos) {
    const size_t end = page.find("</p>", at);
    page.replace(at + marker.size(), end - at - marker.size(),
                 report_html::Escape("waiting: " + why));
  }
  return page;
}

// The report as it is now; `live` with the updating script.
std::string Render(const ServeOptions& o, bool live) {
  try {
    CheckDatabaseFile(o.db);
    std::unique_ptr<Store> store = Store::Open(o.db, /*read_only=*/true);
    // One WAL snapshot for the whole page; the coordinator goes on writing.
    store->BeginSnapshot();
    const StudyRow study = ResolveStudy(*store, o.db, o.study);
    const ReportData data = ReadReportData(*store, study);
    ReportOptions options;
    options.leaderboard_rows = o.leaderboard_rows;
    options.now = WallTime();
    options.live_interval_s = live ? o.interval_s : 0;
    return RenderReport(data, options);
  } catch (const Error& e) {
    if (!live) throw;
    return WaitingPage(e.what(), o.interval_s);
  }
}

}  // namespace

std::pair<std::string, int> ParseServeAddress(const std::string& address) {
  std::string host = "127.0.0.1";
  std::string port = address;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find("]:");
    if (close == std::string::npos)
      port = "";
    else {
      host = address.substr(1, close - 1);
      port = address.substr(close + 2);
    }
  } else if (const size_t colon = address.rfind(':');
             colon != std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  const std::optional<int64_t> n = ParseInt(port);
  if (!n || *n < 0 || *n > 65535 || host.empty()) {
    throw BadInput("--serve " + address +
                   ": expected [HOST:]PORT, e.g. --serve 8080 (on "
                   "127.0.0.1) or --serve 0.0.0.0:8080 (every interface); "
                   "port 0 picks a free one");
  }
  return {host, static_cast<int>(*n)};
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

int ServeReport(const ServeOptions& o) {
  const auto [host, port] = ParseServeAddress(o.address);
  httplib::Server server;
  auto live = [&o](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(Render(o, true), "text/html; charset=utf-8");
  };
  server.Get("/", live);
  server.Get("/index.html", live);
  server.Get("/report.html",
             [&o](const httplib::Request&, httplib::Response& res) {
               res.set_header("Cache-Control", "no-store");
               try {
                 res.set_content(Render(o, false), "text/html; charset=utf-8");
               } catch (const Error& e) {
                 res.status = 503;
                 res.set_content(std::string(e.what()) + "\n",
                                 "text/plain; charset=utf-8");
               }
             });
  server.set_exception_handler([](const httplib::Request&,
                                  httplib::Response& res,
                                  std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    }
    res.status = 500;
    res.set_content("hpo-report: " + what + "\n", "text/plain; charset=utf-8");
  });
  const int bound = port == 0 ? server.bind_to_any_port(host)
                              : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    throw BadInput("--serve " + o.address + ": cannot listen on " + host +
                   " port " + std::to_string(port) +
                   " (in use, or not an address of this machine); pick "
                   "another port or host");
  }
  if (!IsLoopback(host)) {
    std::cerr << "hpo-report: warning: serving on " << host
              << ", reachable from other machines; the page has no access "
                 "control (serve on 127.0.0.1 and use an SSH tunnel to "
                 "keep it private)\n";
  }
  const std::string shown =
      host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::cout << "hpo-report: serving " << o.db
            << (o.study.empty() ? "" : " (study " + o.study + ")")
            << " on http://" << shown << ":" << bound << "/ (updates every "
            << o.interval_s << " s; Ctrl-C stops)" << std::endl;
  // SIGINT and SIGTERM stop the server from a thread of their own, not
  // from a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread stopper([&server, signals]() {
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
  });
  server.listen_after_bind();
  // Stopped by a signal: the stopper has returned; otherwise wake it.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  return 0;
}

}  // namespace hpo
