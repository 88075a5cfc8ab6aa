// Flags: a tiny argv parser for subcommands. Accepts --name value, --name=value, -f value and
// boolean --name; rejects unknown flags, a flag given twice (unless repeatable) and an empty value
// (`--file=`) with a clear message (kInvalidArgument -> exit 2).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "reconcilers/base/result.h"

namespace su {

struct FlagSpec {
  std::string name;         // long name without dashes, e.g. "output"
  char short_name = 0;      // e.g. 'f'
  bool takes_value = true;  // false: boolean switch
  bool repeated = false;
  std::string help;
};

class Flags {
 public:
  // Parses args (after the subcommand). Positional arguments are kept in order.
  static Result<Flags> Parse(const std::string& command, const std::vector<std::string>& args,
                             const std::vector<FlagSpec>& specs);
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> GetAll(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// "  -f, --file VALUE   help" lines for usage text.
std::string FlagsHelp(const std::vector<FlagSpec>& specs);

}  // namespace su
