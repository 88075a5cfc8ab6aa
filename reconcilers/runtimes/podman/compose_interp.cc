// compose_interp: tokenising an image value into literal text and variables, resolving it, and
// mapping the bytes of the resolved image back to editable source bytes (see compose_interp.h).
#include "reconcilers/runtimes/podman/compose_interp.h"

#include <vector>

namespace su {
namespace {

struct Piece {
  enum class Kind { kLiteral, kEscape, kVar } kind = Kind::kLiteral;
  size_t begin = 0, end = 0;  // the piece's bytes in raw
  std::string name;           // kVar
  std::string op;             // "", ":-", "-", ":?", "?"
  size_t def_begin = 0, def_end = 0;  // the default / message text in raw
};

Piece Make(Piece::Kind kind, size_t begin, size_t end) {
  Piece p;
  p.kind = kind;
  p.begin = begin;
  p.end = end;
  return p;
}

bool NameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

Result<std::vector<Piece>> Tokenize(const std::string& raw) {
  std::vector<Piece> out;
  size_t i = 0, lit = 0;
  auto flush = [&](size_t upto) {
    if (upto > lit) out.push_back(Make(Piece::Kind::kLiteral, lit, upto));
  };
  while (i < raw.size()) {
    if (raw[i] != '$') {
      ++i;
      continue;
    }
    flush(i);
    if (i + 1 < raw.size() && raw[i + 1] == '$') {
      out.push_back(Make(Piece::Kind::kEscape, i, i + 2));
      i += 2;
    } else if (i + 1 < raw.size() && NameStart(raw[i + 1])) {
      size_t j = i + 1;
      while (j < raw.size() && NameChar(raw[j])) ++j;
      Piece p = Make(Piece::Kind::kVar, i, j);
      p.name = raw.substr(i + 1, j - i - 1);
      out.push_back(p);
      i = j;
    } else if (i + 1 < raw.size() && raw[i + 1] == '{') {
      size_t close = raw.find('}', i + 2);
      if (close == std::string::npos) return Status::Invalid("\"" + raw + "\": `${` at byte " + std::to_string(i) + " is not closed");
      size_t j = i + 2;
      if (j >= close || !NameStart(raw[j])) return Status::Invalid("\"" + raw + "\": `${...}` at byte " + std::to_string(i) + " does not start with a variable name");
      while (j < close && NameChar(raw[j])) ++j;
      Piece p = Make(Piece::Kind::kVar, i, close + 1);
      p.name = raw.substr(i + 2, j - i - 2);
      for (const char* op : {":-", ":?", "-", "?"}) {
        std::string o = op;
        if (raw.compare(j, o.size(), o) == 0) {
          p.op = o;
          p.def_begin = j + o.size();
          p.def_end = close;
          break;
        }
      }
      if (p.op.empty() && j != close) {
        return Status::Invalid("\"" + raw + "\": `" + raw.substr(i, close + 1 - i) + "` is not ${VAR}, ${VAR:-default}, ${VAR-default} or ${VAR:?message}");
      }
      if (p.def_end > p.def_begin && raw.find('$', p.def_begin) < p.def_end) {
        return Status::Invalid("\"" + raw + "\": nested variables in `" + raw.substr(i, close + 1 - i) + "` are not supported");
      }
      out.push_back(p);
      i = close + 1;
    } else {
      return Status::Invalid("\"" + raw + "\": a lone `$` at byte " + std::to_string(i) + " (write `$$` for a literal dollar)");
    }
    lit = i;
  }
  flush(raw.size());
  return out;
}

// The resolved image, and for each of its bytes the raw byte it comes from when that byte can be
// edited (literal text, or the default of a variable that is in use); npos otherwise.
struct Resolved {
  std::string text;
  std::vector<size_t> source;
  std::vector<int> piece;  // index of the piece each byte comes from
};

Result<Resolved> Resolve(const std::string& raw, const std::vector<Piece>& pieces, const ComposeLookup& lookup) {
  Resolved r;
  auto add = [&](const std::string& s, size_t src, int piece) {
    for (size_t k = 0; k < s.size(); ++k) {
      r.text += s[k];
      r.source.push_back(src == std::string::npos ? src : src + k);
      r.piece.push_back(piece);
    }
  };
  for (size_t n = 0; n < pieces.size(); ++n) {
    const Piece& p = pieces[n];
    int idx = static_cast<int>(n);
    if (p.kind == Piece::Kind::kLiteral) {
      add(raw.substr(p.begin, p.end - p.begin), p.begin, idx);
    } else if (p.kind == Piece::Kind::kEscape) {
      add("$", std::string::npos, idx);
    } else {
      std::optional<std::string> v = lookup ? lookup(p.name) : std::nullopt;
      bool use_default = !v || (v->empty() && (p.op == ":-" || p.op == ":?"));
      std::string deftext = raw.substr(p.def_begin, p.def_end - p.def_begin);
      if (!use_default) {
        add(*v, std::string::npos, idx);
      } else if (p.op == ":-" || p.op == "-") {
        add(deftext, p.def_begin, idx);
      } else if (p.op == ":?" || p.op == "?") {
        return Status::Invalid("\"" + raw + "\": ${" + p.name + "} is not set (" + deftext + ")");
      }  // ${VAR} unset: empty
    }
  }
  return r;
}

std::string Describe(const Piece& p) {
  if (p.kind == Piece::Kind::kVar) {
    return p.op.empty() ? "${" + p.name + "}" : "the default of ${" + p.name + p.op + "...}";
  }
  return "the literal text";
}

}  // namespace

bool HasInterpolation(const std::string& raw) { return raw.find('$') != std::string::npos; }

Result<std::string> InterpolateCompose(const std::string& raw, const ComposeLookup& lookup) {
  SU_ASSIGN_OR_RETURN(std::vector<Piece> pieces, Tokenize(raw));
  SU_ASSIGN_OR_RETURN(Resolved r, Resolve(raw, pieces, lookup));
  return r.text;
}

Result<InterpolatedEdit> EditInterpolated(const std::string& raw, const std::string& target,
                                          const ComposeLookup& lookup) {
  SU_ASSIGN_OR_RETURN(std::vector<Piece> pieces, Tokenize(raw));
  SU_ASSIGN_OR_RETURN(Resolved r, Resolve(raw, pieces, lookup));
  const std::string& now = r.text;
  if (now == target) return InterpolatedEdit{raw, "nothing"};
  // The changed region: what lies between the common prefix and the common suffix.
  size_t pre = 0;
  while (pre < now.size() && pre < target.size() && now[pre] == target[pre]) ++pre;
  size_t suf = 0;
  while (suf < now.size() - pre && suf < target.size() - pre &&
         now[now.size() - 1 - suf] == target[target.size() - 1 - suf]) {
    ++suf;
  }
  size_t from = pre, to = now.size() - suf;  // [from, to) of now is replaced
  std::string insert = target.substr(pre, target.size() - suf - pre);
  // Every replaced byte must come from one editable piece; an insertion needs an editable
  // neighbour (the byte before it, else the byte after it).
  int piece = -1;
  size_t src_from = std::string::npos, src_to = std::string::npos;
  bool editable = true;
  if (from < to) {
    piece = r.piece[from];
    for (size_t k = from; k < to; ++k) {
      if (r.piece[k] != piece || r.source[k] == std::string::npos) editable = false;
    }
    if (editable) {
      src_from = r.source[from];
      src_to = r.source[to - 1] + 1;
    }
  } else if (from > 0 && r.source[from - 1] != std::string::npos) {
    piece = r.piece[from - 1];
    src_from = src_to = r.source[from - 1] + 1;
  } else if (from < now.size() && r.source[from] != std::string::npos) {
    piece = r.piece[from];
    src_from = src_to = r.source[from];
  } else {
    editable = false;
    if (from > 0) piece = r.piece[from - 1];
    else if (from < now.size()) piece = r.piece[from];
  }
  if (!editable) {
    std::string holder;
    if (piece >= 0 && pieces[piece].kind == Piece::Kind::kVar) {
      const Piece& p = pieces[piece];
      std::optional<std::string> v = lookup ? lookup(p.name) : std::nullopt;
      holder = "that part comes from the variable " + p.name +
               (v ? " (set to \"" + *v + "\")" : " (not set, no default)");
    } else {
      holder = "the change spans several variables and literal text";
    }
    return Status::Invalid("image \"" + raw + "\" resolves to " + now + "; bumping it to " + target +
                           " would change a part the compose file does not hold literally: " + holder +
                           ". The controller does not overwrite the operator's variable: set it to the new "
                           "image (or unset it so the default applies), or write the image without the variable");
  }
  InterpolatedEdit e;
  e.written = raw.substr(0, src_from) + insert + raw.substr(src_to);
  e.where = Describe(pieces[piece]);
  // The result must resolve to the target: the edit may not have created new syntax.
  SU_ASSIGN_OR_RETURN(std::string check, InterpolateCompose(e.written, lookup));
  if (check != target) {
    return Status::Invalid("image \"" + raw + "\": the edited value \"" + e.written + "\" resolves to " + check +
                           ", not " + target + "; write the image without interpolation");
  }
  return e;
}

std::optional<std::string> DotEnvValue(const std::string& text, const std::string& name) {
  std::optional<std::string> found;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t i = line.find_first_not_of(" \t");
    if (i == std::string::npos || line[i] == '#') continue;
    if (line.compare(i, 7, "export ") == 0) i = line.find_first_not_of(" \t", i + 7);
    if (i == std::string::npos) continue;
    size_t eq = line.find('=', i);
    if (eq == std::string::npos) continue;
    std::string key = line.substr(i, eq - i);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    if (key != name) continue;
    std::string v = line.substr(eq + 1);
    size_t b = v.find_first_not_of(" \t");
    v = b == std::string::npos ? "" : v.substr(b);
    if (!v.empty() && (v[0] == '"' || v[0] == '\'')) {
      size_t close = v.find(v[0], 1);
      v = close == std::string::npos ? v.substr(1) : v.substr(1, close - 1);
    } else {
      size_t hash = v.find(" #");
      if (hash != std::string::npos) v = v.substr(0, hash);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    }
    found = v;  // the last definition wins
  }
  return found;
}

}  // namespace su
