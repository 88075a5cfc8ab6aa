// Metrics registry and Prometheus text rendering (see metrics.h).
#include "controller/runtime/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace su {
namespace {

// Series identity: sorted labels rendered as the text format writes them, so a map keyed by this
// string also yields a stable output order.
std::string LabelKey(MetricLabels labels) {
  if (labels.empty()) return "";
  std::sort(labels.begin(), labels.end());
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
  }
  return out + "}";
}

// Prometheus floats: integers without a fraction, +Inf/-Inf/NaN spelled out.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

std::string EscapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Metrics::Metrics(std::string prefix) : prefix_(std::move(prefix)) {}

void Metrics::Describe(const std::string& name, const std::string& help) {
  std::lock_guard<std::mutex> l(mu_);
  help_[name] = help;
}

Metrics::Family& Metrics::FamilyLocked(const std::string& name, Kind kind) {
  auto [it, inserted] = families_.try_emplace(name);
  // The first use fixes the kind; a later mismatched use still records into the same family
  // rather than producing two families with one name, which Prometheus would reject.
  if (inserted) it->second.kind = kind;
  return it->second;
}

const Metrics::Series* Metrics::FindLocked(const std::string& name, const MetricLabels& labels) const {
  auto f = families_.find(name);
  if (f == families_.end()) return nullptr;
  auto s = f->second.series.find(LabelKey(labels));
  return s == f->second.series.end() ? nullptr : &s->second;
}

void Metrics::IncCounter(const std::string& name, const MetricLabels& labels, double delta) {
  if (delta < 0) return;
  std::lock_guard<std::mutex> l(mu_);
  FamilyLocked(name, Kind::kCounter).series[LabelKey(labels)].value += delta;
}

void Metrics::SetGauge(const std::string& name, const MetricLabels& labels, double value) {
  std::lock_guard<std::mutex> l(mu_);
  Series& s = FamilyLocked(name, Kind::kGauge).series[LabelKey(labels)];
  s.fn = nullptr;
  s.value = value;
}

void Metrics::AddGauge(const std::string& name, const MetricLabels& labels, double delta) {
  std::lock_guard<std::mutex> l(mu_);
  FamilyLocked(name, Kind::kGauge).series[LabelKey(labels)].value += delta;
}

void Metrics::RemoveSeries(const std::string& name, const MetricLabels& labels) {
  std::lock_guard<std::mutex> l(mu_);
  auto f = families_.find(name);
  if (f != families_.end()) f->second.series.erase(LabelKey(labels));
}

void Metrics::SetGaugeFunc(const std::string& name, const MetricLabels& labels, std::function<double()> fn) {
  std::lock_guard<std::mutex> l(mu_);
  FamilyLocked(name, Kind::kGauge).series[LabelKey(labels)].fn = std::move(fn);
}

void Metrics::Observe(const std::string& name, const MetricLabels& labels, double value) {
  std::lock_guard<std::mutex> l(mu_);
  Series& s = FamilyLocked(name, Kind::kSummary).series[LabelKey(labels)];
  s.value += value;
  s.count += 1;
}

double Metrics::Value(const std::string& name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> l(mu_);
  const Series* s = FindLocked(name, labels);
  if (!s) return 0;
  if (s->fn) return s->fn();
  return families_.at(name).kind == Kind::kSummary ? s->count : s->value;
}

double Metrics::Sum(const std::string& name, const MetricLabels& labels) const {
  std::lock_guard<std::mutex> l(mu_);
  const Series* s = FindLocked(name, labels);
  return s ? s->value : 0;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> l(mu_);
  std::ostringstream out;
  for (const auto& [name, family] : families_) {
    const std::string full = prefix_ + name;
    auto h = help_.find(name);
    if (h != help_.end()) out << "# HELP " << full << " " << EscapeHelp(h->second) << "\n";
    const char* type = family.kind == Kind::kCounter ? "counter" : family.kind == Kind::kGauge ? "gauge" : "summary";
    out << "# TYPE " << full << " " << type << "\n";
    for (const auto& [labels, s] : family.series) {
      if (family.kind == Kind::kSummary) {
        out << full << "_sum" << labels << " " << FormatValue(s.value) << "\n";
        out << full << "_count" << labels << " " << FormatValue(s.count) << "\n";
      } else {
        out << full << labels << " " << FormatValue(s.fn ? s.fn() : s.value) << "\n";
      }
    }
  }
  return out.str();
}

}  // namespace su
