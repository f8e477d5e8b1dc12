#include "common/paths.h"

#include <algorithm>
#include <system_error>

#include "common/error.h"

namespace hpo {

namespace fs = std::filesystem;

namespace {

// True if `path` is `root` or lies below it (both canonical).
bool IsWithin(const fs::path& root, const fs::path& path) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    // A trailing empty component ("/a/b/") matches nothing more.
    if (r->empty()) continue;
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> RelativePathProblem(const fs::path& root,
                                               const std::string& rel,
                                               Symlinks symlinks) {
  if (rel.empty()) return "is empty";
  if (rel.find('\0') != std::string::npos) return "contains a NUL character";
  const fs::path path(rel);
  if (path.is_absolute() || path.has_root_name() || path.has_root_directory()) {
    return "is absolute";
  }
  for (const fs::path& part : path) {
    if (part == "..") return "has a \"..\" component";
  }
  const fs::path normal = path.lexically_normal();
  if (normal.empty() || normal == ".") return "names the directory itself";
  if (symlinks == Symlinks::kFollow) return std::nullopt;
  std::error_code ec;
  const fs::path real_root = fs::weakly_canonical(root, ec);
  if (ec) return "cannot be checked: " + root.string() + ": " + ec.message();
  const fs::path real = fs::weakly_canonical(root / path, ec);
  if (ec) return "cannot be resolved: " + ec.message();
  if (!IsWithin(real_root, real) || real == real_root) {
    return "leads through a symbolic link to " + real.string();
  }
  return std::nullopt;
}

fs::path SafeRelativePath(const fs::path& root, const std::string& rel,
                          const std::string& what, Symlinks symlinks) {
  if (std::optional<std::string> problem =
          RelativePathProblem(root, rel, symlinks)) {
    throw BadInput(what + " " + rel + " " + *problem +
                   " (it must be relative to " + root.string() +
                   " and stay inside it)");
  }
  return root / rel;
}

fs::path ShardsPath(const fs::path& data_dir, const std::string& shards) {
  if (fs::path(shards).is_absolute()) return shards;
  return SafeRelativePath(data_dir, shards, "data.shards", Symlinks::kFollow);
}

}  // namespace hpo
