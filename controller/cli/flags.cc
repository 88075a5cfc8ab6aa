// Flag parsing (see flags.h).
#include "controller/cli/flags.h"

namespace su {

Result<Flags> Flags::Parse(const std::string& command, const std::vector<std::string>& args,
                           const std::vector<FlagSpec>& specs) {
  Flags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      f.positional_.insert(f.positional_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      f.positional_.push_back(a);
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::string value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_inline = true;
      }
      for (const auto& s : specs) {
        if (s.name == name) spec = &s;
      }
      if (!spec) {
        std::string known;
        for (const auto& s : specs) known += (known.empty() ? "--" : ", --") + s.name;
        return Status::Invalid(command + ": unknown flag --" + name + " (known: " + known + ")");
      }
    } else {
      if (a.size() != 2) return Status::Invalid(command + ": unknown flag " + a);
      for (const auto& s : specs) {
        if (s.short_name == a[1]) spec = &s;
      }
      if (!spec) return Status::Invalid(command + ": unknown flag " + a);
    }
    if (spec->takes_value && !has_inline) {
      if (i + 1 >= args.size()) return Status::Invalid(command + ": flag --" + spec->name + " needs a value");
      value = args[++i];
    }
    if (spec->takes_value && value.empty()) {
      return Status::Invalid(command + ": flag --" + spec->name + " has an empty value; expected " +
                             (spec->help.empty() ? "a value" : spec->help) + " (e.g. --" + spec->name +
                             "=VALUE)");
    }
    if (!spec->takes_value) {
      if (has_inline && value != "true" && value != "false") {
        return Status::Invalid(command + ": flag --" + spec->name + " is a switch (true|false)");
      }
      if (!has_inline) value = "true";
    }
    auto& v = f.values_[spec->name];
    if (!v.empty() && !spec->repeated) return Status::Invalid(command + ": flag --" + spec->name + " given twice");
    v.push_back(value);
  }
  return f;
}

std::string Flags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> Flags::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string FlagsHelp(const std::vector<FlagSpec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    std::string left = "  ";
    left += s.short_name ? std::string("-") + s.short_name + ", " : "    ";
    left += "--" + s.name + (s.takes_value ? " VALUE" : "");
    if (left.size() < 28) left += std::string(28 - left.size(), ' ');
    out += left + " " + s.help + "\n";
  }
  return out;
}

}  // namespace su
