// CurveZMQ keys: generating them, and reading the key files that hpo-keygen
// writes (README.md, "Security").
//
// A key is 32 bytes, written as 40 characters of Z85 (ZeroMQ's printable
// encoding, as zmq_curve_keypair() produces). Key files follow CZMQ's zcert
// text format, so CZMQ tools read them too:
//
//   NAME.pub                              NAME.key (mode 0600)
//   #   ZeroMQ CURVE Public Certificate   #   ZeroMQ CURVE **Secret**
//   Certificate metadata                              metadata curve curve
//       public-key = "<40 chars Z85>"         public-key = "<40 chars Z85>"
//                                             secret-key = "<40 chars Z85>"
//
// Readers also accept a file whose only non-comment line is the bare 40
// characters (lines starting with "#" are comments unless they are a key).
// Errors name the file and say how to fix it (run hpo-keygen).
#ifndef HPO_COMMON_CURVE_KEYS_H_
#define HPO_COMMON_CURVE_KEYS_H_

#include <map>
#include <string>
#include <vector>

namespace hpo {

constexpr size_t kCurveKeyChars = 40;  // Z85 text of a 32-byte key.
constexpr size_t kCurveKeyBytes = 32;

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters.
  std::string secret_key;  // Z85, 40 characters.
};

// True if this process's libzmq was built with CURVE (zmq_has("curve")).
bool CurveAvailable();

// Throws hpo::Error (bad input) "PROGRAM: ... no CURVE support ..." with how
// to get a libzmq that has it, when CurveAvailable() is false.
void RequireCurve(const std::string& program);

// A new random key pair (zmq_curve_keypair). Throws hpo::Error (runtime)
// when libzmq cannot make one.
CurveKeyPair GenerateCurveKeyPair();

// The public key that belongs to a secret key (zmq_curve_public), Z85.
// Throws hpo::Error (bad input) for a malformed secret key.
std::string CurvePublicKeyOf(const std::string& secret_z85);

// True if `text` is 40 characters of the Z85 alphabet that decode to a key.
bool IsZ85Key(const std::string& text);

// The 32 bytes of a Z85 key; `z85` must satisfy IsZ85Key().
std::string DecodeZ85Key(const std::string& z85);
// The Z85 text of 32 key bytes.
std::string EncodeZ85Key(const std::string& bytes);

// The contents of NAME.key and NAME.pub for `keys`; `generated` goes in the
// header comment (e.g. "2024-05-01 10:00:00 by hpo-keygen").
std::string SecretKeyFileText(const CurveKeyPair& keys,
                              const std::string& generated);
std::string PublicKeyFileText(const std::string& public_key,
                              const std::string& generated);

// Reads a public key file. Throws hpo::Error (bad input) "PATH: what is
// wrong (how to fix)" for an unreadable or malformed file.
std::string ReadPublicKeyFile(const std::string& path);

// Reads a secret key file: its secret key, and the public key that belongs
// to it (checked against the file's own public-key line when it has one).
// Refuses, like ssh, a file that its group or others may read or write
// (mode & 077), with the chmod that fixes it. Throws hpo::Error (bad input)
// "PATH: what is wrong (how to fix)".
CurveKeyPair ReadSecretKeyFile(const std::string& path);

// The public keys of a directory of authorised clients: every *.pub file
// in `dir` (not its sub-directories).
struct AuthorizedKeys {
  std::map<std::string, std::string> names;  // 32 key bytes -> file stem.
  std::vector<std::string> problems;         // One line per unusable file.
};

// Reads `dir`. Throws hpo::Error (bad input) if `dir` is not a readable
// directory; a malformed *.pub file is left out and named in `problems`.
AuthorizedKeys ReadAuthorizedKeys(const std::string& dir);

}  // namespace hpo

#endif  // HPO_COMMON_CURVE_KEYS_H_
