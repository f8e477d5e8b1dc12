// CurveZMQ key files: what hpo-keygen writes is what the readers read, and
// every bad file is refused with its name and the fix.
#include "common/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/skip.h"

namespace hpo {
namespace {

class CurveKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.empty());
    if (!CurveAvailable()) HPO_SKIP_UNLESS_REQUIRED("libzmq without CURVE");
  }

  std::string Write(const std::string& name, const std::string& text,
                    mode_t mode = 0600) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), mode);
    return path;
  }

  // The message of the hpo::Error that `f` throws, or "" if none.
  template <typename F>
  std::string ErrorOf(F f) {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      return e.what();
    }
    return "";
  }

  testutil::ScratchDir scratch_{"hpo_keys"};
  const std::string dir_ = scratch_.path();
};

TEST_F(CurveKeysTest, KeyFilesRoundTrip) {
  const CurveKeyPair keys = GenerateCurveKeyPair();
  EXPECT_TRUE(IsZ85Key(keys.public_key));
  EXPECT_TRUE(IsZ85Key(keys.secret_key));
  EXPECT_EQ(CurvePublicKeyOf(keys.secret_key), keys.public_key);
  const std::string key = Write("a.key", SecretKeyFileText(keys, "today"));
  const std::string pub =
      Write("a.pub", PublicKeyFileText(keys.public_key, "today"), 0644);
  const CurveKeyPair read = ReadSecretKeyFile(key);
  EXPECT_EQ(read.secret_key, keys.secret_key);
  EXPECT_EQ(read.public_key, keys.public_key);
  EXPECT_EQ(ReadPublicKeyFile(pub), keys.public_key);
  EXPECT_EQ(EncodeZ85Key(DecodeZ85Key(keys.public_key)), keys.public_key);
  EXPECT_EQ(DecodeZ85Key(keys.public_key).size(), kCurveKeyBytes);
}

TEST_F(CurveKeysTest, BareKeysWithCommentsAreAccepted) {
  const CurveKeyPair keys = GenerateCurveKeyPair();
  const std::string pub =
      Write("b.pub", "# the coordinator\n" + keys.public_key + "\n", 0644);
  EXPECT_EQ(ReadPublicKeyFile(pub), keys.public_key);
  const std::string key = Write("b.key", keys.secret_key + "\n");
  EXPECT_EQ(ReadSecretKeyFile(key).public_key, keys.public_key);
}

TEST_F(CurveKeysTest, BadFilesNameTheFileAndTheFix) {
  const CurveKeyPair keys = GenerateCurveKeyPair();
  std::string e = ErrorOf([&] { ReadSecretKeyFile(dir_ + "/missing.key"); });
  EXPECT_NE(e.find("missing.key: cannot read it"), std::string::npos) << e;
  EXPECT_NE(e.find("hpo-keygen --out " + dir_ + "/missing"), std::string::npos)
      << e;

  const std::string loose =
      Write("loose.key", SecretKeyFileText(keys, "today"), 0644);
  e = ErrorOf([&] { ReadSecretKeyFile(loose); });
  EXPECT_NE(e.find("mode 0644"), std::string::npos) << e;
  EXPECT_NE(e.find("chmod 600 " + loose), std::string::npos) << e;

  const std::string pub =
      Write("c.pub", PublicKeyFileText(keys.public_key, "today"));
  e = ErrorOf([&] { ReadSecretKeyFile(pub); });
  EXPECT_NE(e.find("no secret-key"), std::string::npos) << e;
  const std::string secret = Write("c.key", SecretKeyFileText(keys, "today"));
  e = ErrorOf([&] { ReadPublicKeyFile(secret); });
  EXPECT_NE(e.find("holds a secret key"), std::string::npos) << e;

  std::string text = SecretKeyFileText(keys, "today");
  text.replace(text.find(keys.secret_key), 5, "\"\"\"\"\"");
  const std::string broken = Write("broken.key", text);
  e = ErrorOf([&] { ReadSecretKeyFile(broken); });
  EXPECT_NE(e.find("broken.key:8: secret-key is not a 40-character Z85 key"),
            std::string::npos)
      << e;

  const CurveKeyPair other = GenerateCurveKeyPair();
  text = SecretKeyFileText(keys, "today");
  text.replace(text.find(keys.public_key), kCurveKeyChars, other.public_key);
  const std::string mixed = Write("mixed.key", text);
  e = ErrorOf([&] { ReadSecretKeyFile(mixed); });
  EXPECT_NE(e.find("does not belong"), std::string::npos) << e;

  const std::string empty = Write("empty.pub", "# nothing\n", 0644);
  e = ErrorOf([&] { ReadPublicKeyFile(empty); });
  EXPECT_NE(e.find("empty.pub: no public-key"), std::string::npos) << e;
}

TEST_F(CurveKeysTest, AuthorizedDirectoryReadsEveryPubFile) {
  namespace fs = std::filesystem;
  const std::string dir = dir_ + "/authorized";
  fs::create_directory(dir);
  const CurveKeyPair w1 = GenerateCurveKeyPair();
  const CurveKeyPair w2 = GenerateCurveKeyPair();
  std::ofstream(dir + "/w1.pub") << PublicKeyFileText(w1.public_key, "t");
  std::ofstream(dir + "/w2.pub") << w2.public_key << "\n";
  std::ofstream(dir + "/README") << "not a key";
  std::ofstream(dir + "/bad.pub") << "public-key = \"short\"\n";
  AuthorizedKeys keys = ReadAuthorizedKeys(dir);
  ASSERT_EQ(keys.names.size(), 2u);
  EXPECT_EQ(keys.names[DecodeZ85Key(w1.public_key)], "w1");
  EXPECT_EQ(keys.names[DecodeZ85Key(w2.public_key)], "w2");
  ASSERT_EQ(keys.problems.size(), 1u);
  EXPECT_NE(keys.problems[0].find("bad.pub:1"), std::string::npos);
  EXPECT_THROW(ReadAuthorizedKeys(dir + "/nope"), Error);
}

TEST(Z85Test, RejectsWhatIsNotAKey) {
  EXPECT_FALSE(IsZ85Key(""));
  EXPECT_FALSE(IsZ85Key(std::string(39, 'a')));
  EXPECT_FALSE(IsZ85Key(std::string(40, ' ')));
  EXPECT_FALSE(IsZ85Key(std::string(40, '"')));
  EXPECT_TRUE(IsZ85Key(std::string(40, 'a')));
}

}  // namespace
}  // namespace hpo
