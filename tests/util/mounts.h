// File systems with faults for tests: a small tmpfs that a test fills up, and
// a read-only view of a directory (a bind mount). Both need root
// (CAP_SYS_ADMIN); Mount() says why not otherwise. Mount points are named
// hpomnt<pid>-NAME, unmounted by the destructor, and those of a test
// process that died without unmounting are unmounted by the next Mount().
#ifndef HPO_TESTS_UTIL_MOUNTS_H_
#define HPO_TESTS_UTIL_MOUNTS_H_

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "tests/util/leftovers.h"

namespace hpo::testutil {

class Mount {
 public:
  // A tmpfs of `bytes` at PARENT/hpomnt<pid>-NAME; nullptr with `why` set
  // when it cannot be mounted here.
  static std::unique_ptr<Mount> Tmpfs(const std::string& parent,
                                      const std::string& name, size_t bytes,
                                      std::string* why) {
    RemoveLeftovers();
    std::unique_ptr<Mount> m(new Mount(parent, name));
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0755";
    if (!m->MakePoint(why)) return nullptr;
    if (mount("tmpfs", m->path_.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      *why = "mount -t tmpfs: " + std::string(std::strerror(errno));
      return nullptr;
    }
    m->mounted_ = true;
    return m;
  }

  // `source` seen read-only at PARENT/hpomnt<pid>-NAME; nullptr with `why`
  // set when it cannot be mounted here.
  static std::unique_ptr<Mount> ReadOnlyView(const std::string& source,
                                             const std::string& parent,
                                             const std::string& name,
                                             std::string* why) {
    RemoveLeftovers();
    std::unique_ptr<Mount> m(new Mount(parent, name));
    if (!m->MakePoint(why)) return nullptr;
    if (mount(source.c_str(), m->path_.c_str(), nullptr, MS_BIND, nullptr) !=
        0) {
      *why = "mount --bind: " + std::string(std::strerror(errno));
      return nullptr;
    }
    m->mounted_ = true;
    if (mount(nullptr, m->path_.c_str(), nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      *why = "mount -o remount,bind,ro: " + std::string(std::strerror(errno));
      return nullptr;  // The destructor unmounts the writable view.
    }
    return m;
  }

  ~Mount() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  const std::string& path() const { return path_; }

  // Writes a file at `path` until the file system refuses more (ENOSPC);
  // returns the bytes written.
  static int64_t FillUp(const std::string& path) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return 0;
    int64_t total = 0;
    std::vector<char> block(1 << 16, 'x');
    // Big blocks first, then smaller ones for the last free bytes.
    for (size_t size = block.size(); size > 0; size /= 2) {
      while (true) {
        ssize_t n = write(fd, block.data(), size);
        if (n <= 0) break;
        total += n;
      }
    }
    close(fd);
    return total;
  }

 private:
  Mount(const std::string& parent, const std::string& name)
      : path_(parent + "/hpomnt" + std::to_string(getpid()) + "-" + name) {}

  bool MakePoint(std::string* why) {
    std::error_code ec;
    std::filesystem::create_directories(path_, ec);
    if (ec) *why = path_ + ": " + ec.message();
    return !ec;
  }

  // Unmounts the mount points of test processes that no longer run.
  static void RemoveLeftovers() {
    std::ifstream mounts("/proc/self/mounts");
    std::string line;
    std::vector<std::string> stale;
    while (std::getline(mounts, line)) {
      std::istringstream fields(line);
      std::string device, point;
      fields >> device >> point;
      const size_t at = point.rfind("/hpomnt");
      if (at == std::string::npos) continue;
      const pid_t owner = std::atoi(point.c_str() + at + 7);
      if (owner <= 0 || owner == getpid() || OwnerRuns(owner)) continue;
      stale.push_back(point);
    }
    for (const std::string& point : stale) {
      umount2(point.c_str(), MNT_DETACH);
    }
  }

  std::string path_;
  bool mounted_ = false;
};

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_MOUNTS_H_
