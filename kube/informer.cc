// Informer (see informer.h).
#include "kube/informer.h"

#include <random>
#include <set>

#include "kube/object_meta.h"
#include "reconcilers/base/log.h"

namespace su::kube {

const char* InformerEventName(InformerEvent e) {
  switch (e) {
    case InformerEvent::kAdd: return "add";
    case InformerEvent::kUpdate: return "update";
    case InformerEvent::kDelete: return "delete";
    case InformerEvent::kResync: return "resync";
  }
  return "unknown";
}

Informer::Informer(KubeApi* api, InformerOptions options, Handler handler)
    : api_(api), options_(std::move(options)), handler_(std::move(handler)) {}

Informer::~Informer() { Stop(); }

void Informer::Start() {
  if (started_) return;
  started_ = true;
  std::vector<std::string> scopes = options_.namespaces.empty() ? std::vector<std::string>{""} : options_.namespaces;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& ns : scopes) synced_[ns] = false;
  }
  for (const auto& ns : scopes) threads_.emplace_back([this, ns](std::stop_token st) { Run(ns, st); });
  if (options_.resync_period.count() > 0) threads_.emplace_back([this](std::stop_token st) { Resync(st); });
}

void Informer::Stop() {
  for (auto& t : threads_) t.request_stop();
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

bool Informer::HasSynced() const {
  std::lock_guard<std::mutex> l(mu_);
  if (synced_.empty()) return false;
  for (const auto& [ns, ok] : synced_)
    if (!ok) return false;
  return true;
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, timeout, [this] {
    if (synced_.empty()) return false;
    for (const auto& [ns, ok] : synced_)
      if (!ok) return false;
    return true;
  });
}

std::optional<std::string> Informer::Get(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return it->second.json;
}

std::vector<std::string> Informer::Keys() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  for (const auto& [k, e] : cache_) out.push_back(k);
  return out;
}

std::map<std::string, std::string> Informer::ResourceVersions() const {
  std::lock_guard<std::mutex> l(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [k, e] : cache_) out[k] = e.resource_version;
  return out;
}

Informer::Stats Informer::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

std::string Informer::last_error() const {
  std::lock_guard<std::mutex> l(mu_);
  return last_error_;
}

void Informer::NoteError(const std::string& message) {
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.errors++;
    last_error_ = message;
  }
  LogWarn("kube.informer.error", {{"resource", options_.gvr.resource}, {"error", message}});
}

bool Informer::SleepFor(std::chrono::milliseconds d, std::stop_token stop) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, stop, d, [] { return false; });
  return !stop.stop_requested();
}

std::chrono::milliseconds Informer::NextBackoff(int attempt) {
  thread_local std::mt19937 rng{std::random_device{}()};
  double base = static_cast<double>(options_.backoff_initial.count());
  for (int i = 1; i < attempt && base < options_.backoff_max.count(); ++i) base *= 2;
  base = std::min(base, static_cast<double>(options_.backoff_max.count()));
  std::uniform_real_distribution<double> jitter(1.0, 2.0);
  return std::chrono::milliseconds(static_cast<int64_t>(base * jitter(rng)));
}

void Informer::Deliver(const Events& events) {
  for (const auto& [type, key] : events) handler_(type, key);
}

Informer::Events Informer::Replace(const std::string& ns, const std::vector<std::string>& items) {
  Events out;
  std::set<std::string> seen;
  std::lock_guard<std::mutex> l(mu_);
  for (std::string item : items) {
    auto m = options_.trim_metadata ? ParseObjectMetaTrimmed(&item) : ParseObjectMeta(item);
    if (!m.ok()) continue;
    std::string key = m->Key();
    seen.insert(key);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      cache_[key] = Entry{std::move(item), m->resource_version};
      out.emplace_back(InformerEvent::kAdd, key);
    } else if (it->second.resource_version != m->resource_version) {
      it->second = Entry{std::move(item), m->resource_version};
      out.emplace_back(InformerEvent::kUpdate, key);
    }
  }
  const std::string prefix = ns.empty() ? "" : ns + "/";
  for (auto it = cache_.begin(); it != cache_.end();) {
    bool in_scope = prefix.empty() || it->first.compare(0, prefix.size(), prefix) == 0;
    if (in_scope && !seen.count(it->first)) {
      out.emplace_back(InformerEvent::kDelete, it->first);
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

Informer::Events Informer::Apply(const WatchEvent& ev, std::string* rv) {
  Events out;
  if (ev.type == "BOOKMARK") {
    std::string b = ParseResourceVersion(ev.object);
    if (!b.empty()) *rv = b;
    return out;
  }
  std::string object = ev.object;
  auto m = options_.trim_metadata ? ParseObjectMetaTrimmed(&object) : ParseObjectMeta(object);
  if (!m.ok()) return out;
  if (!m->resource_version.empty()) *rv = m->resource_version;
  std::string key = m->Key();
  std::lock_guard<std::mutex> l(mu_);
  if (ev.type == "DELETED") {
    if (cache_.erase(key)) out.emplace_back(InformerEvent::kDelete, key);
  } else if (ev.type == "ADDED" || ev.type == "MODIFIED") {
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      cache_[key] = Entry{std::move(object), m->resource_version};
      out.emplace_back(InformerEvent::kAdd, key);
    } else if (it->second.resource_version != m->resource_version) {
      it->second = Entry{std::move(object), m->resource_version};
      out.emplace_back(InformerEvent::kUpdate, key);
    }
  }
  return out;
}

void Informer::Run(const std::string& ns, std::stop_token stop) {
  const ResourcePath path{options_.gvr, ns, "", ""};
  const std::string scope = ns.empty() ? "all namespaces" : ns;
  int attempt = 0;
  while (!stop.stop_requested()) {
    // List.
    auto list = api_->List(path, ListOptions{options_.label_selector, "", 500, ""});
    if (!list.ok()) {
      NoteError(list.error().message);
      if (!SleepFor(NextBackoff(++attempt), stop)) return;
      continue;
    }
    // The initial events go out before the scope counts as synced, so a caller that waited for sync
    // has had every key (as client-go's HasSynced).
    {
      std::lock_guard<std::mutex> l(mu_);
      stats_.lists++;
    }
    Deliver(Replace(ns, list->items));
    {
      std::lock_guard<std::mutex> l(mu_);
      synced_[ns] = true;
    }
    cv_.notify_all();
    LogInfo("kube.informer.listed", {{"resource", options_.gvr.resource},
                                     {"scope", scope},
                                     {"items", std::to_string(list->items.size())},
                                     {"resourceVersion", list->resource_version}});
    attempt = 0;

    // Watch from the list's resourceVersion until a 410 (re-list) or stop.
    std::string rv = list->resource_version;
    bool relist = false;
    while (!stop.stop_requested() && !relist) {
      {
        std::lock_guard<std::mutex> l(mu_);
        stats_.watches++;
      }
      bool got_event = false;
      WatchOptions wo;
      wo.label_selector = options_.label_selector;
      wo.resource_version = rv;
      wo.allow_bookmarks = true;
      wo.timeout_seconds = options_.watch_timeout_seconds;
      auto r = api_->Watch(path, wo,
                           [&](const WatchEvent& ev) {
                             got_event = true;
                             Deliver(Apply(ev, &rv));
                             return true;
                           },
                           stop);
      if (stop.stop_requested()) return;
      if (got_event) attempt = 0;
      if (r.ok()) continue;  // the server ended the stream (timeoutSeconds): watch again at once
      if (r.error().IsGone()) {
        {
          std::lock_guard<std::mutex> l(mu_);
          stats_.gone++;
        }
        LogInfo("kube.informer.relist", {{"resource", options_.gvr.resource}, {"scope", scope},
                                         {"reason", "resourceVersion " + rv + " is gone"}});
        relist = true;  // at once, as client-go: the history is gone, backing off would not bring it back
        continue;
      }
      NoteError(r.error().message);
      if (!SleepFor(NextBackoff(++attempt), stop)) return;
      // An HTTP answer (403, 404, 5xx) may mean the resource or the rules changed: list again.
      // A dropped connection resumes from the last resourceVersion (a 410 then forces the re-list).
      if (r.error().http_status != 0) relist = true;
    }
  }
}

void Informer::Resync(std::stop_token stop) {
  while (SleepFor(options_.resync_period, stop)) {
    Events events;
    for (const auto& key : Keys()) events.emplace_back(InformerEvent::kResync, key);
    Deliver(events);
  }
}

}  // namespace su::kube
