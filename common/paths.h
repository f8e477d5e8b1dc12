// Paths that arrive from outside the worker's own configuration (a
// coordinator's messages, a study file) and must stay inside a directory the
// worker chose: checkpoints under --checkpoints, data under --data.
//
// A path is confined when it is relative, has no ".." component, does not
// name the root itself, and (unless symbolic links may lead elsewhere)
// resolves inside the root after following every symbolic link that exists.
// The check is made when the path is used; it protects against a peer that
// sends a crafted path, not against a local user who swaps a directory for a
// link between the check and the use.
#ifndef HPO_COMMON_PATHS_H_
#define HPO_COMMON_PATHS_H_

#include <filesystem>
#include <optional>
#include <string>

namespace hpo {

enum class Symlinks {
  kStayInside,  // Links are followed and must not lead out of the root.
  kFollow,  // Links may lead anywhere (e.g. shared data linked into --data).
};

// Why `rel` is not a path confined to `root`, as a phrase that completes
// "path REL ..." (e.g. "has a \"..\" component"), or nullopt when it is.
// Never throws; a path that cannot be resolved (e.g. no permission) is
// refused.
std::optional<std::string> RelativePathProblem(
    const std::filesystem::path& root, const std::string& rel,
    Symlinks symlinks = Symlinks::kStayInside);

// root / rel when RelativePathProblem() finds nothing; otherwise throws
// hpo::Error (bad input) "WHAT REL PROBLEM (it must be relative to ROOT)".
std::filesystem::path SafeRelativePath(
    const std::filesystem::path& root, const std::string& rel,
    const std::string& what = "path",
    Symlinks symlinks = Symlinks::kStayInside);

// Where a study's data.shards is read from on this worker: an absolute path
// as it is (the study's author chose it; the worker only reads a manifest
// and .npy files there), a relative one under `data_dir`, with no ".."
// component; symbolic links under `data_dir` may lead anywhere (shared
// storage is often linked in). Throws hpo::Error (bad input) for a relative
// path that escapes.
std::filesystem::path ShardsPath(const std::filesystem::path& data_dir,
                                 const std::string& shards);

}  // namespace hpo

#endif  // HPO_COMMON_PATHS_H_
