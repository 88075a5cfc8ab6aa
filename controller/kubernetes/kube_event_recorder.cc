// KubeEventRecorder (see kube_event_recorder.h). cpprestsdk's JSON stays in this file.
#include "controller/kubernetes/kube_event_recorder.h"

#include <unistd.h>

#include <cpprest/json.h>

#include <cstdio>
#include <ctime>

#include "reconcilers/base/log.h"
#include "reconcilers/base/secrets.h"

namespace su::kube {
namespace {

using web::json::value;

constexpr size_t kMaxNote = 1024;

// At most n bytes, cut on a UTF-8 character boundary.
std::string Truncate(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "schema-upgrade";
  return buf;
}

std::string Hex(unsigned long long v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", v);
  return buf;
}

}  // namespace

std::string FormatMicroTime(Clock::TimePoint t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(us % 1000000));
  return out;
}

KubeEventRecorder::KubeEventRecorder(KubeEventRecorderOptions options) : o_(std::move(options)) {
  if (o_.reporting_instance.empty()) o_.reporting_instance = HostName();
  thread_ = std::thread([this] { Run(); });
}

KubeEventRecorder::~KubeEventRecorder() { Stop(); }

void KubeEventRecorder::Record(const std::string& key, const std::string& type, const std::string& reason,
                               const std::string& message) {
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_ || queue_.size() >= o_.queue_limit) {
    ++stats_.dropped;
    LogWarn("event.dropped", {{"resource", key}, {"reason", reason}, {"why", stopping_ ? "stopping" : "queue full"}});
    return;
  }
  queue_.push_back({key, type, reason, Scrub(message), o_.clock->Now()});
  cv_.notify_all();
}

void KubeEventRecorder::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

KubeEventRecorder::Stats KubeEventRecorder::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

bool KubeEventRecorder::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, timeout, [&] { return queue_.empty() && !busy_; });
}

void KubeEventRecorder::Run() {
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (true) {
    Item item;
    {
      std::unique_lock<std::mutex> l(mu_);
      busy_ = false;
      cv_.notify_all();
      cv_.wait_for(l, o_.flush_period, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_ && deadline == std::chrono::steady_clock::time_point::max()) {
        deadline = std::chrono::steady_clock::now() + o_.flush_timeout;
      }
      if (queue_.empty() || std::chrono::steady_clock::now() > deadline) {
        if (stopping_) {
          stats_.dropped += static_cast<int>(queue_.size());
          queue_.clear();
          busy_ = false;
          cv_.notify_all();
          l.unlock();
          FlushSeries(true);
          return;
        }
        l.unlock();
        FlushSeries(false);
        continue;
      }
      item = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    Write(item);
  }
}

bool KubeEventRecorder::Take(const std::string& uid) {
  auto now = o_.monotonic();
  auto [it, fresh] = buckets_.try_emplace(uid);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = o_.burst;
    b.last = now;
  } else if (o_.refill.count() > 0) {
    double refilled = std::chrono::duration<double, std::milli>(now - b.last).count() / o_.refill.count();
    b.tokens = std::min<double>(o_.burst, b.tokens + refilled);
    b.last = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

bool KubeEventRecorder::PatchSeries(const std::string& id, Series* s) {
  value series = value::object();
  series["count"] = value::number(s->count);
  series["lastObservedTime"] = value::string(FormatMicroTime(s->last_observed));
  value patch = value::object();
  patch["series"] = series;
  auto r = o_.api->Patch({kEventsV1, s->ns, s->name, ""}, PatchType::kMerge, patch.serialize());
  std::lock_guard<std::mutex> l(mu_);
  if (!r.ok()) {
    ++stats_.failed;
    LogWarn("event.series_failed", {{"event", s->ns + "/" + s->name}, {"error", r.error().Describe()}});
    return !r.error().IsNotFound();  // a deleted Event: the next repeat creates a new one
  }
  ++stats_.series;
  s->sent_count = s->count;
  return true;
}

void KubeEventRecorder::FlushSeries(bool all) {
  auto now = o_.monotonic();
  for (auto it = series_.begin(); it != series_.end();) {
    Series& s = it->second;
    std::string uid = it->first.substr(0, it->first.find('|'));
    if (s.count > s.sent_count && (all || Take(uid))) {
      if (!PatchSeries(it->first, &s)) {
        it = series_.erase(it);
        continue;
      }
    }
    if (now - s.last_seen > o_.aggregation_window && s.count == s.sent_count) {
      it = series_.erase(it);
      continue;
    }
    ++it;
  }
}

void KubeEventRecorder::Write(const Item& item) {
  std::optional<ObjectRef> ref = o_.lookup ? o_.lookup(item.key) : std::nullopt;
  if (!ref) {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.dropped;
    return;
  }
  const std::string note = Truncate(item.message, kMaxNote);
  const std::string reason = Truncate(item.reason, 128);
  const std::string id = ref->uid + "|" + item.type + "|" + reason + "|" + note;
  auto now = o_.monotonic();
  auto found = series_.find(id);
  if (found != series_.end() && now - found->second.last_seen <= o_.aggregation_window) {
    Series& s = found->second;
    s.count++;
    s.last_observed = item.at;
    s.last_seen = now;
    {
      std::lock_guard<std::mutex> l(mu_);
      ++stats_.aggregated;
    }
    if (Take(ref->uid) && !PatchSeries(id, &s)) series_.erase(found);
    return;  // over the limit: FlushSeries sends the count later
  }
  if (found != series_.end()) series_.erase(found);
  if (!Take(ref->uid)) {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.dropped;
    LogWarn("event.rate_limited", {{"resource", item.key}, {"reason", reason}});
    return;
  }
  value regarding = value::object();
  regarding["apiVersion"] = value::string(ref->api_version);
  regarding["kind"] = value::string(ref->kind);
  regarding["namespace"] = value::string(ref->ns);
  regarding["name"] = value::string(ref->name);
  regarding["uid"] = value::string(ref->uid);
  regarding["resourceVersion"] = value::string(ref->resource_version);
  value ev = value::object();
  ev["apiVersion"] = value::string("events.k8s.io/v1");
  ev["kind"] = value::string("Event");
  value meta = value::object();
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(item.at.time_since_epoch()).count();
  const std::string name = ref->name + "." + Hex(static_cast<unsigned long long>(nanos));
  meta["name"] = value::string(name);
  meta["namespace"] = value::string(ref->ns);
  ev["metadata"] = meta;
  ev["eventTime"] = value::string(FormatMicroTime(item.at));
  ev["reportingController"] = value::string(o_.reporting_controller);
  ev["reportingInstance"] = value::string(Truncate(o_.reporting_instance, 128));
  ev["action"] = value::string("Reconcile");
  ev["reason"] = value::string(reason);
  ev["type"] = value::string(item.type);
  ev["note"] = value::string(note);
  ev["regarding"] = regarding;
  auto r = o_.api->Create({kEventsV1, ref->ns, "", ""}, ev.serialize());
  if (!r.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    ++stats_.failed;
    LogWarn("event.create_failed", {{"resource", item.key}, {"reason", reason}, {"error", r.error().Describe()}});
    return;
  }
  Series s;
  s.name = name;
  s.ns = ref->ns;
  s.last_observed = item.at;
  s.last_seen = now;
  series_[id] = s;
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.created;
}

}  // namespace su::kube
