// Writes the protocol fuzzer's seed corpus: one message of every type, with
// every optional field set, as MessagePack (TYPE.msgpack) and as JSON text
// (TYPE.json). Usage: make_protocol_corpus DIR. To remake fuzz/corpus/protocol
// after a protocol change:
//   cmake --build build-fuzz --target make_protocol_corpus
//   build-fuzz/fuzz/make_protocol_corpus fuzz/corpus/protocol
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/protocol.h"
#include "tests/util/protocol_samples.h"

namespace {

using hpo::EveryType;
using nlohmann::json;

bool Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_protocol_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  for (const auto& [type, fields] : EveryType()) {
    const hpo::Message m = hpo::MakeMessage(type, fields);
    const std::string stem = dir + "/" + hpo::ToString(type);
    if (!Write(stem + ".msgpack", hpo::Encode(m)) ||
        !Write(stem + ".json", m.body.dump())) {
      std::fprintf(stderr, "make_protocol_corpus: cannot write %s\n",
                   stem.c_str());
      return 1;
    }
  }
  return 0;
}
