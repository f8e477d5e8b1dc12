// The --db and --study options of the commands that read a results database
// (hpo-query, hpo-report), worded once. Header-only: Boost.Program_options is
// linked by the mains alone.
#ifndef HPO_RESULTS_DB_OPTIONS_H_
#define HPO_RESULTS_DB_OPTIONS_H_

#include <boost/program_options.hpp>
#include <string>

namespace hpo {

inline void AddDbOptions(boost::program_options::options_description& options) {
  namespace po = boost::program_options;
  options.add_options()(
      "db", po::value<std::string>(),
      "results database that hpo-coordinator writes (required)")(
      "study", po::value<std::string>(),
      "study name; may be left out when the database holds one study");
}

}  // namespace hpo

#endif  // HPO_RESULTS_DB_OPTIONS_H_
