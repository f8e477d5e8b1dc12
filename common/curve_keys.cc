#include "common/curve_keys.h"

#include <sys/stat.h>
#include <zmq.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "common/error.h"

namespace hpo {

namespace fs = std::filesystem;

namespace {

constexpr char kZ85Alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ".-:+=^!/*?&<>()[]{}@%$#";

std::string Fix(const std::string& path) {
  std::string stem = fs::path(path).replace_extension().string();
  return "create a key pair with: hpo-keygen --out " + stem;
}

std::string Trim(const std::string& s) {
  const char* space = " \t\r\n";
  size_t b = s.find_first_not_of(space);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(space) - b + 1);
}

// The keys a file holds: "public-key" and "secret-key" entries, or bare keys.
struct KeyFile {
  std::optional<std::string> public_key;
  std::optional<std::string> secret_key;
  std::vector<std::string> bare;
};

KeyFile ParseKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw BadInput(path + ": cannot read it: " + std::strerror(errno) + " (" +
                   Fix(path) + ")");
  }
  KeyFile file;
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    const std::string line = Trim(raw);
    if (line.empty()) continue;
    if (IsZ85Key(line)) {
      file.bare.push_back(line);
      continue;
    }
    if (line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;  // "metadata", "curve" sections.
    const std::string name = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (name != "public-key" && name != "secret-key") continue;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (!IsZ85Key(value)) {
      throw BadInput(path + ":" + std::to_string(number) + ": " + name +
                     " is not a 40-character Z85 key (" + Fix(path) + ")");
    }
    (name == "public-key" ? file.public_key : file.secret_key) = value;
  }
  if (file.bare.size() > 1) {
    throw BadInput(path + ": holds " + std::to_string(file.bare.size()) +
                   " bare keys, expected one (" + Fix(path) + ")");
  }
  return file;
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") != 0; }

void RequireCurve(const std::string& program) {
  if (CurveAvailable()) return;
  int major = 0, minor = 0, patch = 0;
  zmq_version(&major, &minor, &patch);
  throw BadInput(program + ": this libzmq (" + std::to_string(major) + "." +
                 std::to_string(minor) + "." + std::to_string(patch) +
                 ") was built without CURVE support, so keys cannot be used; "
                 "install a libzmq built with libsodium (Debian's libzmq5 is)");
}

CurveKeyPair GenerateCurveKeyPair() {
  char public_key[kCurveKeyChars + 1] = {};
  char secret_key[kCurveKeyChars + 1] = {};
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    throw RuntimeFailure(std::string("cannot generate a CURVE key pair: ") +
                         zmq_strerror(zmq_errno()));
  }
  return {public_key, secret_key};
}

std::string CurvePublicKeyOf(const std::string& secret_z85) {
  if (!IsZ85Key(secret_z85)) {
    throw BadInput("not a 40-character Z85 secret key");
  }
  char public_key[kCurveKeyChars + 1] = {};
  if (zmq_curve_public(public_key, secret_z85.c_str()) != 0) {
    throw BadInput(std::string("cannot derive the public key: ") +
                   zmq_strerror(zmq_errno()));
  }
  return public_key;
}

bool IsZ85Key(const std::string& text) {
  if (text.size() != kCurveKeyChars) return false;
  for (char c : text) {
    if (c == '\0' || std::strchr(kZ85Alphabet, c) == nullptr) return false;
  }
  uint8_t bytes[kCurveKeyBytes];
  return zmq_z85_decode(bytes, text.c_str()) != nullptr;
}

std::string DecodeZ85Key(const std::string& z85) {
  uint8_t bytes[kCurveKeyBytes] = {};
  if (!IsZ85Key(z85) || zmq_z85_decode(bytes, z85.c_str()) == nullptr) {
    return "";
  }
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

std::string EncodeZ85Key(const std::string& bytes) {
  if (bytes.size() != kCurveKeyBytes) return "";
  char text[kCurveKeyChars + 1] = {};
  zmq_z85_encode(text, reinterpret_cast<const uint8_t*>(bytes.data()),
                 bytes.size());
  return text;
}

std::string SecretKeyFileText(const CurveKeyPair& keys,
                              const std::string& generated) {
  return "#   ****  Generated on " + generated +
         "  ****\n"
         "#   ZeroMQ CURVE **Secret** Certificate\n"
         "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its "
         "permissions.\n"
         "\n"
         "metadata\n"
         "curve\n"
         "    public-key = \"" +
         keys.public_key +
         "\"\n"
         "    secret-key = \"" +
         keys.secret_key + "\"\n";
}

std::string PublicKeyFileText(const std::string& public_key,
                              const std::string& generated) {
  return "#   ****  Generated on " + generated +
         "  ****\n"
         "#   ZeroMQ CURVE Public Certificate\n"
         "#   Exchange securely, or use a secure mechanism to verify the "
         "contents\n"
         "#   of this file after exchange.\n"
         "\n"
         "metadata\n"
         "curve\n"
         "    public-key = \"" +
         public_key + "\"\n";
}

std::string ReadPublicKeyFile(const std::string& path) {
  KeyFile file = ParseKeyFile(path);
  if (file.secret_key) {
    throw BadInput(path +
                   ": holds a secret key; give the public one (the .pub file "
                   "hpo-keygen wrote beside it)");
  }
  if (file.public_key) return *file.public_key;
  if (file.bare.size() == 1) return file.bare[0];
  throw BadInput(path + ": no public-key in it (" + Fix(path) + ")");
}

CurveKeyPair ReadSecretKeyFile(const std::string& path) {
  struct stat st = {};
  if (stat(path.c_str(), &st) != 0) {
    throw BadInput(path + ": cannot read it: " + std::strerror(errno) + " (" +
                   Fix(path) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o",
                  static_cast<unsigned>(st.st_mode & 07777));
    throw BadInput(path +
                   ": secret key file is accessible to group or others " +
                   "(mode " + mode + "); run: chmod 600 " + path);
  }
  KeyFile file = ParseKeyFile(path);
  std::string secret;
  if (file.secret_key) {
    secret = *file.secret_key;
  } else if (file.bare.size() == 1 && !file.public_key) {
    secret = file.bare[0];
  } else {
    throw BadInput(path + ": no secret-key in it; is it a public key? (" +
                   Fix(path) + ")");
  }
  CurveKeyPair keys{CurvePublicKeyOf(secret), secret};
  if (file.public_key && *file.public_key != keys.public_key) {
    throw BadInput(path +
                   ": its public-key does not belong to its secret-key (the "
                   "file was edited; " +
                   Fix(path) + ")");
  }
  return keys;
}

AuthorizedKeys ReadAuthorizedKeys(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw BadInput(dir +
                   ": not a directory (expected a directory of the "
                   "workers' .pub files, made with hpo-keygen)");
  }
  AuthorizedKeys out;
  fs::directory_iterator it(dir, ec);
  if (ec) throw BadInput(dir + ": cannot list it: " + ec.message());
  for (const fs::directory_entry& entry : it) {
    const fs::path& path = entry.path();
    if (path.extension() != ".pub" || !entry.is_regular_file(ec)) continue;
    try {
      const std::string key = DecodeZ85Key(ReadPublicKeyFile(path.string()));
      out.names[key] = path.stem().string();
    } catch (const Error& e) {
      out.problems.push_back(e.what());
    }
  }
  return out;
}

}  // namespace hpo
