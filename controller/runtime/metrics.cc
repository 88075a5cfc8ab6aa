// Metrics registry and Prometheus text rendering (see metrics.h).
#include "controller/runtime/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

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

Metrics::Family* Metrics::GetFamily(const std::string& name, Kind kind) {
  std::lock_guard<std::mutex> l(mu_);
  auto [it, inserted] = families_.try_emplace(name);
  // The first use fixes the kind; a later mismatched use still records into the same family
  // rather than producing two families with one name, which Prometheus would reject.
  if (inserted) {
    it->second = std::make_unique<Family>();
    it->second->kind = kind;
  }
  return it->second.get();
}

Metrics::Family* Metrics::FindFamily(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto f = families_.find(name);
  return f == families_.end() ? nullptr : f->second.get();
}

void Metrics::IncCounter(const std::string& name, const MetricLabels& labels, double delta) {
  if (delta < 0) return;
  std::string key = LabelKey(labels);
  Family* f = GetFamily(name, Kind::kCounter);
  std::lock_guard<std::mutex> l(f->mu);
  f->series[key].value += delta;
}

void Metrics::SetGauge(const std::string& name, const MetricLabels& labels, double value) {
  std::string key = LabelKey(labels);
  Family* f = GetFamily(name, Kind::kGauge);
  std::lock_guard<std::mutex> l(f->mu);
  Series& s = f->series[key];
  s.fn = nullptr;
  s.value = value;
}

void Metrics::AddGauge(const std::string& name, const MetricLabels& labels, double delta) {
  std::string key = LabelKey(labels);
  Family* f = GetFamily(name, Kind::kGauge);
  std::lock_guard<std::mutex> l(f->mu);
  f->series[key].value += delta;
}

void Metrics::RemoveSeries(const std::string& name, const MetricLabels& labels) {
  Family* f = FindFamily(name);
  if (!f) return;
  std::string key = LabelKey(labels);
  std::lock_guard<std::mutex> l(f->mu);
  f->series.erase(key);
}

void Metrics::SetGaugeFunc(const std::string& name, const MetricLabels& labels, std::function<double()> fn) {
  std::string key = LabelKey(labels);
  Family* f = GetFamily(name, Kind::kGauge);
  std::lock_guard<std::mutex> l(f->mu);
  f->series[key].fn = std::move(fn);
}

void Metrics::Observe(const std::string& name, const MetricLabels& labels, double value) {
  std::string key = LabelKey(labels);
  Family* f = GetFamily(name, Kind::kSummary);
  std::lock_guard<std::mutex> l(f->mu);
  Series& s = f->series[key];
  s.value += value;
  s.count += 1;
}

double Metrics::Value(const std::string& name, const MetricLabels& labels) const {
  Family* f = FindFamily(name);
  if (!f) return 0;
  std::lock_guard<std::mutex> l(f->mu);
  auto s = f->series.find(LabelKey(labels));
  if (s == f->series.end()) return 0;
  if (s->second.fn) return s->second.fn();
  return f->kind == Kind::kSummary ? s->second.count : s->second.value;
}

double Metrics::Sum(const std::string& name, const MetricLabels& labels) const {
  Family* f = FindFamily(name);
  if (!f) return 0;
  std::lock_guard<std::mutex> l(f->mu);
  auto s = f->series.find(LabelKey(labels));
  return s == f->series.end() ? 0 : s->second.value;
}

std::string Metrics::Render() const {
  // The list of families under the registry's lock, then each family under its own.
  std::vector<std::pair<std::string, const Family*>> families;
  std::map<std::string, std::string> help;
  {
    std::lock_guard<std::mutex> l(mu_);
    families.reserve(families_.size());
    for (const auto& [name, f] : families_) families.emplace_back(name, f.get());
    help = help_;
  }
  std::string out;
  for (const auto& [name, family] : families) {
    const std::string full = prefix_ + name;
    auto h = help.find(name);
    if (h != help.end()) out += "# HELP " + full + " " + EscapeHelp(h->second) + "\n";
    const char* type = family->kind == Kind::kCounter ? "counter" : family->kind == Kind::kGauge ? "gauge" : "summary";
    out += "# TYPE " + full + " " + type + "\n";
    std::lock_guard<std::mutex> l(family->mu);
    for (const auto& [labels, s] : family->series) {
      if (family->kind == Kind::kSummary) {
        out.append(full).append("_sum").append(labels).append(" ").append(FormatValue(s.value)).append("\n");
        out.append(full).append("_count").append(labels).append(" ").append(FormatValue(s.count)).append("\n");
      } else {
        out.append(full).append(labels).append(" ").append(FormatValue(s.fn ? s.fn() : s.value)).append("\n");
      }
    }
  }
  return out;
}

}  // namespace su
