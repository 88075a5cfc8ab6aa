// The Lease elector (see lease_elector.h for the algorithm and threads).
#include "controller/kubernetes/lease_elector.h"

#include <random>

#include "reconcilers/base/log.h"

namespace su {
namespace {

const kube::GroupVersionResource kLeases{"coordination.k8s.io", "v1", "leases", true};

std::chrono::milliseconds Jittered(std::chrono::milliseconds d) {
  // client-go's wait.JitterUntil(period, 1.2): period + rand[0, 1.2) * period.
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> f(0.0, 1.2);
  return d + std::chrono::milliseconds(static_cast<long long>(f(rng) * static_cast<double>(d.count())));
}

}  // namespace

Result<std::unique_ptr<LeaseElector>> LeaseElector::Create(kube::KubeApi* api, LeaseOptions options, Clock* clock) {
  if (Status s = ValidateLeaseOptions(options); !s.ok()) return s;
  if (api == nullptr || clock == nullptr) return Status::Invalid("LeaseElector needs an API client and a clock");
  return std::unique_ptr<LeaseElector>(new LeaseElector(api, std::move(options), clock));
}

LeaseElector::LeaseElector(kube::KubeApi* api, LeaseOptions options, Clock* clock)
    : api_(api), options_(std::move(options)), clock_(clock) {}

LeaseElector::~LeaseElector() {
  stop_.request_stop();
  wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  if (watchdog_.joinable()) watchdog_.join();
}

kube::ResourcePath LeaseElector::Path() const { return {kLeases, options_.ns, options_.name, ""}; }

bool LeaseElector::IsLeader() const {
  std::lock_guard<std::mutex> l(mu_);
  return leading_;
}

LeaderState LeaseElector::State() const {
  std::lock_guard<std::mutex> l(mu_);
  return {options_.identity, leading_, observed_.holder_identity, observed_.lease_transitions};
}

void LeaseElector::Observe(const LeaseRecord& record) {
  if (!observed_any_ || !(record == observed_)) {
    observed_ = record;
    observed_at_ = clock_->MonotonicNow();
    observed_any_ = true;
  }
  if (record.holder_identity != reported_holder_) {
    reported_holder_ = record.holder_identity;
    LogInfo("leader.observed", {{"lease", LeaseKey()}, {"holder", record.holder_identity.empty() ? "(none)" : record.holder_identity},
                                {"identity", options_.identity}});
  }
}

bool LeaseElector::TryAcquireOrRenew() {
  std::lock_guard<std::mutex> attempt(attempt_mu_);
  const std::string now = FormatMicroTime(clock_->Now());
  LeaseRecord desired{options_.identity, static_cast<int>(options_.lease_duration.count() / 1000), now, now, 0};

  // 1. Fast path: the leader updates optimistically from the Lease it last wrote.
  std::string base;
  bool fast = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto valid_until = observed_at_ + std::chrono::seconds(observed_.lease_duration_seconds);
    if (observed_any_ && observed_.holder_identity == options_.identity && clock_->MonotonicNow() < valid_until &&
        !lease_json_.empty()) {
      desired.acquire_time = observed_.acquire_time;
      desired.lease_transitions = observed_.lease_transitions;
      base = lease_json_;
      fast = true;
    }
  }
  if (fast) {
    auto body = UpdatedLeaseJson(base, desired);
    if (body.ok()) {
      auto r = api_->Update(Path(), *body);
      if (r.ok()) {
        std::lock_guard<std::mutex> l(mu_);
        lease_json_ = *r;
        Observe(desired);
        return true;
      }
      LogWarn("leader.renew_failed", {{"lease", LeaseKey()}, {"error", r.error().Describe()}, {"next", "re-reading the Lease"}});
    }
  }

  // 2. Read the Lease, or create it.
  auto got = api_->Get(Path());
  if (!got.ok()) {
    if (!got.error().IsNotFound()) {
      LogWarn("leader.get_failed", {{"lease", LeaseKey()}, {"error", got.error().Describe()}});
      return false;
    }
    kube::ResourcePath collection = Path();
    collection.name.clear();  // POST to the collection
    auto created = api_->Create(collection, NewLeaseJson(options_.ns, options_.name, desired));
    if (!created.ok()) {
      LogWarn("leader.create_failed", {{"lease", LeaseKey()}, {"error", created.error().Describe()}});
      return false;
    }
    std::lock_guard<std::mutex> l(mu_);
    lease_json_ = *created;
    Observe(desired);
    return true;
  }
  auto lease = ParseLease(*got);
  if (!lease.ok()) {
    LogWarn("leader.get_failed", {{"lease", LeaseKey()}, {"error", lease.status().ToString()}});
    return false;
  }

  // 3. Compare with what we saw before: only a change restarts the other holder's lease duration.
  {
    std::lock_guard<std::mutex> l(mu_);
    lease_json_ = lease->json;
    Observe(lease->record);
    auto valid_until = observed_at_ + std::chrono::seconds(observed_.lease_duration_seconds);
    bool held_by_other = !observed_.holder_identity.empty() && observed_.holder_identity != options_.identity;
    if (held_by_other && clock_->MonotonicNow() < valid_until) return false;
    // 4. Take it over (transitions + 1) or renew it (keep acquireTime and transitions).
    if (observed_.holder_identity == options_.identity) {
      desired.acquire_time = observed_.acquire_time;
      desired.lease_transitions = observed_.lease_transitions;
    } else {
      desired.lease_transitions = observed_.lease_transitions + 1;
    }
    base = lease_json_;
  }
  auto body = UpdatedLeaseJson(base, desired);
  if (!body.ok()) return false;
  auto updated = api_->Update(Path(), *body);
  if (!updated.ok()) {
    // 409: someone wrote the Lease since our read (another standby won the race, or the holder renewed).
    LogWarn("leader.update_failed", {{"lease", LeaseKey()}, {"error", updated.error().Describe()}});
    return false;
  }
  std::lock_guard<std::mutex> l(mu_);
  lease_json_ = *updated;
  Observe(desired);
  return true;
}

bool LeaseElector::AcquireStep() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (leading_) return true;
    if (released_ || lost_.stop_requested()) return false;
  }
  if (!TryAcquireOrRenew()) return false;
  long long transitions;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (released_) return false;  // Release() raced the attempt: it stops the loops; the lease expires
    leading_ = true;
    last_renew_ = clock_->MonotonicNow();
    transitions = observed_.lease_transitions;
  }
  LogInfo("leader.acquired", {{"lease", LeaseKey()}, {"identity", options_.identity},
                              {"transitions", std::to_string(transitions)}});
  return true;
}

bool LeaseElector::RenewStep() {
  if (!IsLeader()) return false;
  bool ok = TryAcquireOrRenew();
  std::string reason;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!leading_) return false;
    auto now = clock_->MonotonicNow();
    if (ok) {
      last_renew_ = now;
      return true;
    }
    if (!observed_.holder_identity.empty() && observed_.holder_identity != options_.identity) {
      reason = "the Lease is held by " + observed_.holder_identity;
    } else if (now - last_renew_ >= options_.renew_deadline) {
      reason = "renewals failed for the renew deadline (" + std::to_string(options_.renew_deadline.count()) + "ms)";
    }
  }
  if (reason.empty()) return true;  // retry within the deadline
  Lose(reason);
  return false;
}

bool LeaseElector::WatchdogStep() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!leading_) return false;
    if (clock_->MonotonicNow() - last_renew_ < options_.renew_deadline) return true;
  }
  Lose("no successful renewal within the renew deadline (" + std::to_string(options_.renew_deadline.count()) + "ms)");
  return false;
}

void LeaseElector::Lose(const std::string& reason) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!leading_) return;
    leading_ = false;
  }
  LogError("leader.lost", {{"lease", LeaseKey()}, {"identity", options_.identity}, {"reason", reason},
                           {"next", "stop starting steps and exit; the Deployment restarts this replica as a standby"}});
  wake_.notify_all();
  lost_.request_stop();
}

bool LeaseElector::Pause(std::chrono::milliseconds d, std::stop_token extra) {
  std::stop_token own = stop_.get_token();
  // Both tokens feed one, waited on with the stop_token overload, which registers its wakeup
  // atomically with the wait: a bare notify_all from a callback could fall between the predicate
  // check and the block, and the pause would last its whole length after a stop.
  std::stop_source either;
  std::stop_callback a(own, [&either] { either.request_stop(); });
  std::stop_callback b(extra, [&either] { either.request_stop(); });
  std::unique_lock<std::mutex> l(mu_);
  wake_.wait_for(l, either.get_token(), d, [] { return false; });
  return !own.stop_requested() && !extra.stop_requested();
}

Status LeaseElector::WaitForLeadership(std::stop_token stop) {
  LogInfo("leader.waiting", {{"lease", LeaseKey()}, {"identity", options_.identity}});
  while (true) {
    if (stop.stop_requested() || stop_.stop_requested()) return Status::Error(Code::kCancelled, "stopped before leading");
    if (AcquireStep()) break;
    if (!Pause(Jittered(options_.retry_period), stop))
      return Status::Error(Code::kCancelled, "stopped before leading");
  }
  std::lock_guard<std::mutex> l(mu_);
  if (!renewer_.joinable()) renewer_ = std::thread([this] { RenewLoop(); });
  if (!watchdog_.joinable()) watchdog_ = std::thread([this] { WatchdogLoop(); });
  return Status::Ok();
}

void LeaseElector::RenewLoop() {
  while (Pause(options_.retry_period)) {
    if (!RenewStep()) return;
  }
}

void LeaseElector::WatchdogLoop() {
  while (true) {
    std::chrono::milliseconds wait;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!leading_) return;
      auto due = last_renew_ + options_.renew_deadline;
      wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - clock_->MonotonicNow()) +
             std::chrono::milliseconds(1);
    }
    if (wait.count() > 0 && !Pause(wait)) return;
    if (!WatchdogStep()) return;
  }
}

Status LeaseElector::Release() {
  {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
  }
  stop_.request_stop();
  wake_.notify_all();
  // A LostToken() callback may call Release on the renewer or watchdog thread: never join oneself.
  auto self = std::this_thread::get_id();
  if (renewer_.joinable() && renewer_.get_id() != self) renewer_.join();
  if (watchdog_.joinable() && watchdog_.get_id() != self) watchdog_.join();

  std::lock_guard<std::mutex> attempt(attempt_mu_);
  LeaseRecord record;
  std::string base;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!leading_) return Status::Ok();
    const std::string now = FormatMicroTime(clock_->Now());
    record = {"", 1, now, now, observed_.lease_transitions};
    base = lease_json_;
  }
  Status result = Status::Ok();
  for (int attempt_no = 0; attempt_no < 2; ++attempt_no) {
    auto body = UpdatedLeaseJson(base, record);
    if (!body.ok()) {
      result = body.status();
      break;
    }
    auto r = api_->Update(Path(), *body);
    if (r.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      lease_json_ = *r;
      Observe(record);
      result = Status::Ok();
      break;
    }
    result = r.error().ToStatus().WithContext("releasing Lease " + LeaseKey());
    if (!r.error().IsConflict()) break;
    // Our cached resourceVersion is stale: re-read, and release only if we still hold it.
    auto got = api_->Get(Path());
    if (!got.ok()) break;
    auto lease = ParseLease(*got);
    if (!lease.ok() || lease->record.holder_identity != options_.identity) {
      result = Status::Ok();  // someone else holds it already: nothing to give up
      break;
    }
    base = lease->json;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    leading_ = false;
  }
  if (result.ok()) {
    LogInfo("leader.released", {{"lease", LeaseKey()}, {"identity", options_.identity}});
  } else {
    LogWarn("leader.release_failed", {{"lease", LeaseKey()}, {"error", result.ToString()},
                                      {"next", "a standby takes over when the lease expires"}});
  }
  lost_.request_stop();
  return result;
}

}  // namespace su
