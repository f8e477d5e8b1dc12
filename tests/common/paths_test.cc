// Paths from the network (checkpoints, data.shards) stay inside their roots.
#include "common/paths.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace {

namespace fs = std::filesystem;

class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    root_ = fs::path(scratch_.path()) / "root";
    outside_ = fs::path(scratch_.path()) / "outside";
    fs::create_directories(root_ / "trial-1");
    fs::create_directories(outside_);
    std::ofstream(root_ / "trial-1" / "epoch-3.pt") << "x";
    std::ofstream(outside_ / "secret") << "x";
  }

  testutil::ScratchDir scratch_{"hpo_paths"};
  fs::path root_;
  fs::path outside_;
};

TEST_F(PathsTest, AcceptsPlainRelativePaths) {
  EXPECT_EQ(RelativePathProblem(root_, "trial-1/epoch-3.pt"), std::nullopt);
  // Paths that do not exist yet (a checkpoint about to be written).
  EXPECT_EQ(RelativePathProblem(root_, "trial-2/epoch-1.pt"), std::nullopt);
  EXPECT_EQ(RelativePathProblem(root_, "./trial-1//epoch-3.pt"), std::nullopt);
  EXPECT_EQ(SafeRelativePath(root_, "trial-1/epoch-3.pt"),
            root_ / "trial-1/epoch-3.pt");
}

TEST_F(PathsTest, RefusesAbsoluteParentAndEmptyPaths) {
  EXPECT_EQ(RelativePathProblem(root_, ""), "is empty");
  EXPECT_EQ(RelativePathProblem(root_, "/etc/passwd"), "is absolute");
  EXPECT_EQ(RelativePathProblem(root_, (outside_ / "secret").string()),
            "is absolute");
  EXPECT_EQ(RelativePathProblem(root_, "../outside/secret"),
            "has a \"..\" component");
  EXPECT_EQ(RelativePathProblem(root_, "trial-1/../../outside/secret"),
            "has a \"..\" component");
  // Even when it would come back inside: ".." is never needed.
  EXPECT_EQ(RelativePathProblem(root_, "trial-1/../trial-1/epoch-3.pt"),
            "has a \"..\" component");
  EXPECT_EQ(RelativePathProblem(root_, "."), "names the directory itself");
  EXPECT_EQ(RelativePathProblem(root_, "trial-1/.."), "has a \"..\" component");
  EXPECT_EQ(RelativePathProblem(root_, std::string("a\0b", 3)),
            "contains a NUL character");
  // A name that merely contains two dots is fine.
  EXPECT_EQ(RelativePathProblem(root_, "trial..1/x..pt"), std::nullopt);
}

TEST_F(PathsTest, RefusesSymlinksThatLeadOutside) {
  fs::create_directory_symlink(outside_, root_ / "escape");
  fs::create_symlink(outside_ / "secret", root_ / "trial-1" / "link.pt");
  fs::create_directory_symlink(root_ / "trial-1", root_ / "alias");
  auto problem = RelativePathProblem(root_, "escape/secret");
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("symbolic link"), std::string::npos) << *problem;
  EXPECT_TRUE(RelativePathProblem(root_, "trial-1/link.pt"));
  // Through a link that leads out, even to a file that does not exist.
  EXPECT_TRUE(RelativePathProblem(root_, "escape/new-file"));
  // A link that stays inside is fine.
  EXPECT_EQ(RelativePathProblem(root_, "alias/epoch-3.pt"), std::nullopt);
  // Links may lead anywhere when the caller allows it (shared data).
  EXPECT_EQ(RelativePathProblem(root_, "escape/secret", Symlinks::kFollow),
            std::nullopt);
}

TEST_F(PathsTest, TheRootItselfMayBeALink) {
  const fs::path linked = fs::path(scratch_.path()) / "linked-root";
  fs::create_directory_symlink(root_, linked);
  EXPECT_EQ(RelativePathProblem(linked, "trial-1/epoch-3.pt"), std::nullopt);
  EXPECT_EQ(RelativePathProblem(linked, "trial-9/new.pt"), std::nullopt);
}

TEST_F(PathsTest, SafeRelativePathThrowsNamingThePath) {
  try {
    SafeRelativePath(root_, "../outside/secret", "checkpoint");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    const std::string what = e.what();
    EXPECT_NE(what.find("checkpoint ../outside/secret has a \"..\" component"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find(root_.string()), std::string::npos) << what;
  }
}

TEST_F(PathsTest, ShardsMayBeAbsoluteButRelativeOnesStayUnderData) {
  EXPECT_EQ(ShardsPath(root_, "/shared/shards/fma_small"),
            fs::path("/shared/shards/fma_small"));
  EXPECT_EQ(ShardsPath(root_, "shards/fma_small"), root_ / "shards/fma_small");
  EXPECT_THROW(ShardsPath(root_, "../outside"), Error);
  EXPECT_THROW(ShardsPath(root_, "shards/../../outside"), Error);
  // A link under --data to shared storage is followed.
  fs::create_directory_symlink(outside_, root_ / "shared");
  EXPECT_EQ(ShardsPath(root_, "shared"), root_ / "shared");
}

}  // namespace
}  // namespace hpo
