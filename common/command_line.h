// How every hpo-* main reads its command line (Boost.Program_options, which
// only the mains link): a parse error becomes hpo::Error (bad input, exit 2)
// naming the program and pointing at --help. Header-only.
#ifndef HPO_COMMON_COMMAND_LINE_H_
#define HPO_COMMON_COMMAND_LINE_H_

#include <boost/program_options.hpp>
#include <string>

#include "common/error.h"

namespace hpo {

// Parses `argv` with `options` (and `positional`, when given) for
// `program` ("hpo-query", "hpo-prep fma", ...). Throws hpo::Error (bad
// input): "PROGRAM: <what Boost says> (see --help)".
inline boost::program_options::variables_map ParseCommandLine(
    const std::string& program, int argc, char** argv,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description* positional =
        nullptr) {
  namespace po = boost::program_options;
  po::variables_map vm;
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(options);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw BadInput(program + ": " + e.what() + " (see --help)");
  }
  return vm;
}

}  // namespace hpo

#endif  // HPO_COMMON_COMMAND_LINE_H_
