// hpo-keygen: writes a CurveZMQ key pair for hpo-coordinator or hpo-worker:
// NAME.key (secret, mode 0600) and NAME.pub (public), in the text format of
// common/curve_keys.h (CZMQ's zcert format).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>

#include "common/command_line.h"
#include "common/curve_keys.h"
#include "common/error.h"

namespace po = boost::program_options;

namespace {

constexpr char kUsage[] = "Usage: hpo-keygen --out NAME [--force]\n";

// Writes `text` to `path` with `mode`, creating it (or replacing it when
// `force`). Throws hpo::Error naming the file.
void WriteFile(const std::string& path, const std::string& text, mode_t mode,
               bool force) {
  const int flags = O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL);
  const int fd = open(path.c_str(), flags, mode);
  if (fd < 0) {
    const int err = errno;
    throw hpo::BadInput(
        "hpo-keygen: cannot create " + path + ": " + std::strerror(err) +
        (err == EEXIST ? " (pick another --out NAME, or pass --force to "
                         "replace the key pair)"
                       : ""));
  }
  // A replaced file keeps its old mode unless it is set again.
  bool ok = fchmod(fd, mode) == 0 && write(fd, text.data(), text.size()) ==
                                         static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;
  if (!ok) {
    throw hpo::RuntimeFailure("cannot write " + path + ": " +
                              std::strerror(errno));
  }
}

std::string Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm = {};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return std::string(buf) + " by hpo-keygen";
}

int Main(int argc, char** argv) {
  po::options_description options("Options");
  options.add_options()("help,h", "show this help and exit")(
      "out", po::value<std::string>(),
      "writes NAME.key (secret, mode 0600) and NAME.pub (public)")(
      "force", "replace existing NAME.key and NAME.pub");
  const po::variables_map vm =
      hpo::ParseCommandLine("hpo-keygen", argc, argv, options);
  if (vm.count("help")) {
    std::cout << kUsage
              << "\nWrites a CurveZMQ key pair. Give the coordinator its "
                 "NAME.key (--curve-secret)\nand the workers its NAME.pub "
                 "(--server-public); give each worker its own\nNAME.key and "
                 "NAME.pub (--curve-secret, --curve-public) and copy its "
                 "NAME.pub\ninto the coordinator's --authorized-workers "
                 "directory.\n\n"
              << options;
    return 0;
  }
  if (!vm.count("out")) {
    throw hpo::BadInput(
        "hpo-keygen: --out NAME is required, e.g. --out keys/worker1 "
        "(see --help)");
  }
  const std::string name = vm["out"].as<std::string>();
  const bool force = vm.count("force") > 0;
  if (!force) {
    for (const char* ext : {".key", ".pub"}) {
      struct stat st;
      if (stat((name + ext).c_str(), &st) == 0) {
        throw hpo::BadInput("hpo-keygen: " + name + ext +
                            " already exists (pick another --out NAME, or "
                            "pass --force to replace the key pair)");
      }
    }
  }
  hpo::RequireCurve("hpo-keygen");
  const hpo::CurveKeyPair keys = hpo::GenerateCurveKeyPair();
  const std::string generated = Now();
  // The secret first: if it cannot be written, no orphan public key is left.
  WriteFile(name + ".key", hpo::SecretKeyFileText(keys, generated), 0600,
            force);
  WriteFile(name + ".pub", hpo::PublicKeyFileText(keys.public_key, generated),
            0644, force);
  std::cout << "wrote " << name << ".key (secret; keep it private) and " << name
            << ".pub (public key " << keys.public_key << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return hpo::RunMain("hpo-keygen", [&] { return Main(argc, argv); });
}
