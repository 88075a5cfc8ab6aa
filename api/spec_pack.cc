// The packed form of a SchemaUpgrade (see spec_pack.h). One field list (VisitSpec) serves both
// directions, so packing and unpacking cannot disagree on the order.
#include "api/spec_pack.h"

#include <cstdint>
#include <cstdlib>
#include <type_traits>

namespace su {
namespace {

// The sizes the field list below was written for (x86-64, libstdc++). A new field changes them:
// add it to VisitSpec (and to spec_pack_test's "every field set" spec), then update the number.
// A bool can hide in padding without changing a size: spec.h asks for VisitSpec in its comment.
#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(SchemaUpgrade) == 1568, "a SchemaUpgrade field was added or removed: update VisitSpec");
static_assert(sizeof(PolicySpec) == 592, "a PolicySpec field was added or removed: update VisitSpec");
static_assert(sizeof(MigrationsSpec) == 232, "a MigrationsSpec field was added or removed: update VisitSpec");
static_assert(sizeof(WorkloadRef) == 192, "a WorkloadRef field was added or removed: update VisitSpec");
static_assert(sizeof(DsnSource) == 136, "a DsnSource field was added or removed: update VisitSpec");
static_assert(sizeof(MaintenanceWindow) == 120, "a MaintenanceWindow field was added or removed: update VisitSpec");
static_assert(sizeof(RetryPolicy) == 24, "a RetryPolicy field was added or removed: update VisitSpec");
static_assert(sizeof(DependencyRef) == 32, "a DependencyRef field was added or removed: update VisitSpec");
static_assert(sizeof(UpgradePathEntry) == 64, "an UpgradePathEntry field was added or removed: update VisitSpec");
#endif

// A sha256 hex digest (spec_hash): packed as its 32 bytes when it is one, else as a string.
template <class Str>
struct HexDigest {
  Str& s;
};
template <class Str>
HexDigest(Str&) -> HexDigest<Str>;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Every field of a SchemaUpgrade, in the packed order. S is SchemaUpgrade or const SchemaUpgrade.
template <class S, class F>
void VisitSpec(S& su, F& f) {
  f(su.name), f(su.namespace_), f(su.generation), f(su.uid), f(su.annotations), f(su.labels);
  f(su.service), f(su.target_version), f(su.image);
  auto& w = su.workload;
  f(w.kind), f(w.name), f(w.container), f(w.compose_file), f(w.service), f(w.ns);
  auto& d = su.dsn;
  f(d.kind), f(d.env), f(d.file), f(d.secret_name), f(d.secret_key);
  auto& m = su.migrations;
  f(m.engine), f(m.command), f(m.status_command), f(m.source), f(m.path), f(m.config_map_name);
  f(m.config_map_keys), f(m.schema);
  auto& p = su.policy;
  f(p.dry_run), f(p.approval_required), f(p.approved_plan_hash), f(p.backup_enabled), f(p.backup_dir);
  f(p.backup_retention), f(p.backup_pvc_claim), f(p.backup_pvc_sub_path), f(p.restore_allow_data_loss);
  f(p.window), f(p.lock_timeout), f(p.statement_timeout), f(p.lock_wait), f(p.retries.limit);
  f(p.retries.initial_backoff), f(p.retries.max_backoff), f(p.on_failure), f(p.accept_drift);
  f(p.fail_on_lint_errors), f(p.blocked_session_limit), f(p.lock_watch_after), f(p.verify_settle);
  f(p.allow_downgrade), f(p.step_through), f(p.rehearse), f(p.contract_after), f(p.contract_approval_required);
  f(p.contract_approved_hash);
  f(p.rehearse_on_set), f(p.rehearse_on.kind), f(p.rehearse_on.env), f(p.rehearse_on.file);
  f(p.rehearse_on.secret_name), f(p.rehearse_on.secret_key);
  f(su.depends_on), f(su.upgrade_path), f(HexDigest{su.spec_hash}), f(su.source_file), f(su.source_line);
}

class Packer {
 public:
  explicit Packer(std::string* out) : out_(out) {}
  void operator()(const std::string& s) {
    Varint(s.size());
    out_->append(s);
  }
  void operator()(bool b) { out_->push_back(b ? 1 : 0); }
  template <class T>
    requires(std::is_integral_v<T> || std::is_enum_v<T>)
  void operator()(T v) {
    long long x = static_cast<long long>(v);
    Varint((static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63));  // zigzag
  }
  void operator()(std::chrono::milliseconds ms) { (*this)(ms.count()); }
  void operator()(const std::vector<std::string>& v) {
    Varint(v.size());
    for (const auto& s : v) (*this)(s);
  }
  void operator()(const std::map<std::string, std::string>& m) {
    Varint(m.size());
    for (const auto& [k, v] : m) (*this)(k), (*this)(v);
  }
  void operator()(const std::optional<MaintenanceWindow>& w) {
    (*this)(w.has_value());
    if (w) (*this)(w->start), (*this)(w->end), (*this)(w->time_zone), (*this)(w->days);
  }
  void operator()(const std::vector<DependencyRef>& v) {
    Varint(v.size());
    for (const auto& d : v) (*this)(d.name);
  }
  void operator()(const std::vector<UpgradePathEntry>& v) {
    Varint(v.size());
    for (const auto& e : v) (*this)(e.version), (*this)(e.migrations_up_to);
  }
  void operator()(HexDigest<const std::string> h) {
    bool raw = h.s.size() == 64;
    for (char c : h.s) raw = raw && HexValue(c) >= 0;
    (*this)(raw);
    if (!raw) return (*this)(h.s);
    for (size_t i = 0; i < 64; i += 2) out_->push_back(static_cast<char>(HexValue(h.s[i]) * 16 + HexValue(h.s[i + 1])));
  }

 private:
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  std::string* out_;
};

class Unpacker {
 public:
  explicit Unpacker(std::string_view in) : in_(in) {}
  void operator()(std::string& s) {
    size_t n = Varint();
    Need(n);
    s.assign(in_.data() + pos_, n);
    pos_ += n;
  }
  void operator()(bool& b) {
    Need(1);
    b = in_[pos_++] != 0;
  }
  template <class T>
    requires(std::is_integral_v<T> || std::is_enum_v<T>)
  void operator()(T& v) {
    uint64_t z = Varint();
    v = static_cast<T>(static_cast<long long>((z >> 1) ^ (~(z & 1) + 1)));
  }
  void operator()(std::chrono::milliseconds& ms) {
    long long c = 0;
    (*this)(c);
    ms = std::chrono::milliseconds(c);
  }
  void operator()(std::vector<std::string>& v) {
    v.resize(Varint());
    for (auto& s : v) (*this)(s);
  }
  void operator()(std::map<std::string, std::string>& m) {
    m.clear();
    for (size_t n = Varint(); n > 0; --n) {
      std::string k, v;
      (*this)(k), (*this)(v);
      m.emplace(std::move(k), std::move(v));
    }
  }
  void operator()(std::optional<MaintenanceWindow>& w) {
    bool has = false;
    (*this)(has);
    w.reset();
    if (!has) return;
    w.emplace();
    (*this)(w->start), (*this)(w->end), (*this)(w->time_zone), (*this)(w->days);
  }
  void operator()(std::vector<DependencyRef>& v) {
    v.resize(Varint());
    for (auto& d : v) (*this)(d.name);
  }
  void operator()(std::vector<UpgradePathEntry>& v) {
    v.resize(Varint());
    for (auto& e : v) (*this)(e.version), (*this)(e.migrations_up_to);
  }
  void operator()(HexDigest<std::string> h) {
    bool raw = false;
    (*this)(raw);
    if (!raw) return (*this)(h.s);
    Need(32);
    static const char kHex[] = "0123456789abcdef";
    h.s.resize(64);
    for (size_t i = 0; i < 32; ++i) {
      unsigned char b = static_cast<unsigned char>(in_[pos_ + i]);
      h.s[2 * i] = kHex[b >> 4];
      h.s[2 * i + 1] = kHex[b & 15];
    }
    pos_ += 32;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  // The packed form is made in this process from a valid spec: a short or long input is a bug
  // (memory corruption), not bad input, and stops the process rather than run a wrong spec.
  void Need(size_t n) const {
    if (n > in_.size() - pos_) std::abort();
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      Need(1);
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    std::abort();
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::string PackSpec(const SchemaUpgrade& su) {
  std::string out;
  out.reserve(256);
  Packer p(&out);
  VisitSpec(su, p);
  out.shrink_to_fit();
  return out;
}

SchemaUpgrade UnpackSpec(std::string_view packed) {
  SchemaUpgrade su;
  Unpacker u(packed);
  VisitSpec(su, u);
  if (!u.done()) std::abort();
  return su;
}

}  // namespace su
