// OpenAPI v3 structural checks and a recursive value validator for the CRD tests.
#include "tests/unit/artifacts/schema_check.h"

#include <algorithm>
#include <regex>
#include <set>

namespace su::testing {
namespace {

// The JSONSchemaProps keys this CRD may use. Anything else (additionalProperties, default,
// oneOf, $ref, x-kubernetes-preserve-unknown-fields...) is either non-structural or a feature
// we chose not to use, so its appearance is a mistake worth failing on.
const std::set<std::string>& AllowedKeys() {
  static const std::set<std::string> keys = {
      "description", "type", "format", "properties", "items", "required", "enum", "pattern",
      "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "nullable",
      "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys"};
  return keys;
}

const std::set<std::string>& ScalarTypes() {
  static const std::set<std::string> types = {"string", "integer", "number", "boolean"};
  return types;
}

std::string Str(const YAML::Node& n) { return n && n.IsScalar() ? n.Scalar() : std::string(); }

bool MatchesPattern(const std::string& pattern, const std::string& value, std::string* error) {
  try {
    // OpenAPI patterns are unanchored, like JSON Schema: search, not match.
    return std::regex_search(value, std::regex(pattern, std::regex::ECMAScript));
  } catch (const std::regex_error& e) {
    *error = std::string("pattern does not compile: ") + e.what();
    return false;
  }
}

void Add(std::vector<std::string>* errors, const std::string& path, const std::string& msg) {
  errors->push_back(path + ": " + msg);
}

}  // namespace

ScalarKind ResolveScalar(const YAML::Node& node) {
  if (!node || node.IsNull()) return ScalarKind::kNull;
  const std::string tag = node.Tag();
  if (tag != "?") {
    if (tag == "tag:yaml.org,2002:int") return ScalarKind::kInt;
    if (tag == "tag:yaml.org,2002:bool") return ScalarKind::kBool;
    if (tag == "tag:yaml.org,2002:float") return ScalarKind::kFloat;
    return ScalarKind::kString;  // "!" (quoted) or !!str
  }
  const std::string& s = node.Scalar();
  static const std::regex null_re("^(~|null|Null|NULL|)$");
  static const std::regex bool_re(
      "^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$");
  static const std::regex int_re("^[-+]?(0|[1-9][0-9_]*|0[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+)$");
  static const std::regex float_re(
      "^[-+]?([0-9][0-9_]*)?\\.[0-9]*([eE][-+][0-9]+)?$|^[-+]?\\.(inf|Inf|INF)$|^\\.(nan|NaN|NAN)$");
  if (std::regex_match(s, null_re)) return ScalarKind::kNull;
  if (std::regex_match(s, bool_re)) return ScalarKind::kBool;
  if (std::regex_match(s, int_re)) return ScalarKind::kInt;
  if (std::regex_match(s, float_re)) return ScalarKind::kFloat;
  return ScalarKind::kString;
}

void CheckStructural(const YAML::Node& schema, const std::string& path, std::vector<std::string>* errors) {
  if (!schema.IsMap()) {
    Add(errors, path, "schema node is not a map");
    return;
  }
  for (const auto& kv : schema) {
    const std::string key = kv.first.as<std::string>();
    if (!AllowedKeys().count(key)) Add(errors, path, "unknown or non-structural key '" + key + "'");
  }
  const std::string type = Str(schema["type"]);
  if (type.empty()) {
    Add(errors, path, "no type (every node of a structural schema needs one)");
    return;
  }
  if (schema["description"] && !schema["description"].IsScalar()) Add(errors, path, "description is not a string");

  if (type == "object") {
    const YAML::Node props = schema["properties"];
    // Only ObjectMeta may stay open: the API server validates it itself.
    const bool is_metadata = path == "openAPIV3Schema.metadata";
    if (!props) {
      if (!is_metadata) Add(errors, path, "object without properties (would accept nothing but {})");
    } else if (!props.IsMap() || props.size() == 0) {
      Add(errors, path, "properties must be a non-empty map");
    } else {
      for (const auto& kv : props) CheckStructural(kv.second, path + "." + kv.first.as<std::string>(), errors);
    }
    if (const YAML::Node req = schema["required"]) {
      if (!req.IsSequence()) {
        Add(errors, path, "required is not a list");
      } else {
        for (const auto& r : req) {
          if (!props || !props[r.as<std::string>()]) Add(errors, path, "required field '" + r.as<std::string>() + "' is not in properties");
        }
      }
    }
  } else if (type == "array") {
    const YAML::Node items = schema["items"];
    if (!items || !items.IsMap()) {
      Add(errors, path, "array without an items schema");
    } else {
      CheckStructural(items, path + "[]", errors);
      if (const YAML::Node keys = schema["x-kubernetes-list-map-keys"]) {
        if (Str(schema["x-kubernetes-list-type"]) != "map") Add(errors, path, "list-map-keys without list-type map");
        for (const auto& k : keys) {
          const std::string key = k.as<std::string>();
          if (!items["properties"] || !items["properties"][key]) {
            Add(errors, path, "list-map key '" + key + "' is not an item property");
            continue;
          }
          const YAML::Node req = items["required"];
          bool required = false;
          if (req) for (const auto& r : req) required = required || r.as<std::string>() == key;
          if (!required) Add(errors, path, "list-map key '" + key + "' must be required in items");
        }
      }
    }
  } else if (!ScalarTypes().count(type)) {
    Add(errors, path, "unknown type '" + type + "'");
  } else {
    if (schema["properties"] || schema["items"]) Add(errors, path, "scalar type with properties/items");
  }

  if (const YAML::Node pattern = schema["pattern"]) {
    std::string err;
    MatchesPattern(Str(pattern), "", &err);
    if (!err.empty()) Add(errors, path, err);
    if (type != "string") Add(errors, path, "pattern on a non-string type");
  }
  if (const YAML::Node en = schema["enum"]) {
    if (!en.IsSequence() || en.size() == 0) Add(errors, path, "enum must be a non-empty list");
    else
      for (const auto& v : en) {
        // Each enum value must itself satisfy the node (type, pattern): an enum value the
        // schema rejects could never be stored.
        std::vector<std::string> sub;
        YAML::Node no_enum = YAML::Clone(schema);
        no_enum.remove("enum");
        ValidateValue(no_enum, v, path + " enum value " + Str(v), &sub);
        errors->insert(errors->end(), sub.begin(), sub.end());
      }
  }
  if (const YAML::Node rules = schema["x-kubernetes-validations"]) {
    if (!rules.IsSequence()) Add(errors, path, "x-kubernetes-validations is not a list");
    else
      for (const auto& r : rules) {
        if (Str(r["rule"]).empty()) Add(errors, path, "validation rule without a rule");
        if (Str(r["message"]).empty()) Add(errors, path, "validation rule without a message");
        for (const auto& kv : r) {
          const std::string k = kv.first.as<std::string>();
          if (k != "rule" && k != "message" && k != "messageExpression" && k != "fieldPath" && k != "reason" &&
              k != "optionalOldSelf")
            Add(errors, path, "unknown key in validation rule: " + k);
        }
      }
  }
  if (const YAML::Node fmt = schema["format"]) {
    static const std::set<std::string> formats = {"int32", "int64", "date-time", "double", "float", "byte", "uri"};
    if (!formats.count(Str(fmt))) Add(errors, path, "unknown format '" + Str(fmt) + "'");
  }
}

void ValidateValue(const YAML::Node& schema, const YAML::Node& value, const std::string& path,
                   std::vector<std::string>* errors) {
  const std::string type = Str(schema["type"]);
  if (!value || value.IsNull()) {
    if (!(schema["nullable"] && schema["nullable"].as<bool>())) Add(errors, path, "null where " + type + " expected");
    return;
  }
  if (type == "object") {
    if (!value.IsMap()) {
      Add(errors, path, "expected an object");
      return;
    }
    const YAML::Node props = schema["properties"];
    if (const YAML::Node req = schema["required"]) {
      for (const auto& r : req) {
        if (!value[r.as<std::string>()]) Add(errors, path, "missing required field '" + r.as<std::string>() + "'");
      }
    }
    if (!props) return;  // metadata: the API server's own schema applies
    for (const auto& kv : value) {
      const std::string key = kv.first.as<std::string>();
      if (!props[key]) {
        Add(errors, path, "unknown field '" + key + "' (it would be pruned)");
        continue;
      }
      ValidateValue(props[key], kv.second, path + "." + key, errors);
    }
    return;
  }
  if (type == "array") {
    if (!value.IsSequence()) {
      Add(errors, path, "expected a list");
      return;
    }
    if (schema["minItems"] && value.size() < schema["minItems"].as<size_t>()) Add(errors, path, "too few items");
    for (size_t i = 0; i < value.size(); ++i) ValidateValue(schema["items"], value[i], path + "[" + std::to_string(i) + "]", errors);
    return;
  }
  if (!value.IsScalar()) {
    Add(errors, path, "expected a " + type + " scalar");
    return;
  }
  const ScalarKind kind = ResolveScalar(value);
  const bool type_ok = (type == "string" && kind == ScalarKind::kString) ||
                       (type == "integer" && kind == ScalarKind::kInt) ||
                       (type == "number" && (kind == ScalarKind::kInt || kind == ScalarKind::kFloat)) ||
                       (type == "boolean" && kind == ScalarKind::kBool);
  if (!type_ok) {
    Add(errors, path, "'" + value.Scalar() + "' is not a " + type + (kind == ScalarKind::kString ? "" : " (quote it?)"));
    return;
  }
  const std::string s = value.Scalar();
  if (const YAML::Node en = schema["enum"]) {
    bool found = false;
    for (const auto& v : en) found = found || v.Scalar() == s;
    if (!found) Add(errors, path, "'" + s + "' is not one of the allowed values");
  }
  if (const YAML::Node pattern = schema["pattern"]) {
    std::string err;
    if (!MatchesPattern(pattern.Scalar(), s, &err)) Add(errors, path, "'" + s + "' does not match " + pattern.Scalar() + (err.empty() ? "" : " (" + err + ")"));
  }
  if (schema["minLength"] && s.size() < schema["minLength"].as<size_t>()) Add(errors, path, "shorter than minLength");
  if (schema["maxLength"] && s.size() > schema["maxLength"].as<size_t>()) Add(errors, path, "longer than maxLength");
  if (schema["minimum"] && kind == ScalarKind::kInt && value.as<long long>() < schema["minimum"].as<long long>())
    Add(errors, path, "below minimum " + schema["minimum"].Scalar());
}

YAML::Node SchemaAtJsonPath(const YAML::Node& root_schema, const std::string& json_path, std::string* error) {
  if (json_path.empty() || json_path[0] != '.') {
    *error = "JSONPath must start with '.': " + json_path;
    return YAML::Node(YAML::NodeType::Undefined);
  }
  // Split on '.' outside [...] (filters may contain dots in quoted values).
  std::vector<std::string> parts;
  std::string cur;
  int depth = 0;
  for (size_t i = 1; i < json_path.size(); ++i) {
    const char c = json_path[i];
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == '.' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);

  if (parts[0] == "metadata") {
    static const std::set<std::string> meta = {"name", "namespace", "uid", "generation", "creationTimestamp"};
    if (parts.size() == 2 && meta.count(parts[1])) {
      return YAML::Load(parts[1] == "creationTimestamp" ? "{type: string, format: date-time}"
                        : parts[1] == "generation"      ? "{type: integer, format: int64}"
                                                        : "{type: string}");
    }
    *error = "not a standard metadata field: " + json_path;
    return YAML::Node(YAML::NodeType::Undefined);
  }

  YAML::Node node = YAML::Clone(root_schema);
  for (const std::string& part : parts) {
    std::string field = part;
    bool index = false;
    const size_t bracket = part.find('[');
    if (bracket != std::string::npos) {
      field = part.substr(0, bracket);
      index = true;  // [0], [*] or [?(filter)]: all step into the items schema
    }
    if (Str(node["type"]) != "object" || !node["properties"] || !node["properties"][field]) {
      *error = "'" + field + "' of " + json_path + " is not in the schema";
      return YAML::Node(YAML::NodeType::Undefined);
    }
    node = YAML::Clone(node["properties"][field]);
    if (index) {
      if (Str(node["type"]) != "array") {
        *error = "'" + field + "' of " + json_path + " is indexed but is not an array";
        return YAML::Node(YAML::NodeType::Undefined);
      }
      node = YAML::Clone(node["items"]);
      // A filter such as [?(@.type=="Ready")] must test a field the items have.
      static const std::regex filter_re("\\?\\(@\\.([A-Za-z0-9_]+)");
      std::smatch m;
      const std::string brackets = part.substr(bracket);
      if (std::regex_search(brackets, m, filter_re) &&
          (!node["properties"] || !node["properties"][m[1].str()])) {
        *error = "filter field '" + m[1].str() + "' of " + json_path + " is not in the schema";
        return YAML::Node(YAML::NodeType::Undefined);
      }
    }
  }
  return node;
}

}  // namespace su::testing
