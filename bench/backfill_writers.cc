// su-bench-writers: the concurrent write load of bench/backfill.sh. CLIENTS threads, each with its
// own libpq session, run short transactions (`UPDATE <table> SET w = w + 1 WHERE id = <random>`,
// autocommit) as fast as they can until SIGTERM/SIGINT, timing each one on the monotonic clock.
// A one-row update by primary key takes well under a millisecond on its own, so its latency above
// that is time spent waiting, mostly for a row lock held by the backfill (or the single UPDATE).
// On stop it prints one line: "TRANSACTIONS P50_MS P99_MS MAX_MS ERRORS".
//
// usage: BENCH_DSN=... su-bench-writers TABLE ROWS CLIENTS
// A measuring tool outside the product (like measure.cc): plain libpq, no project headers.
#include <libpq-fe.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stop{false};

struct Result {
  std::vector<double> ms;
  long errors = 0;
};

void Writer(const char* dsn, std::string table, long rows, unsigned seed, Result* out) {
  PGconn* c = PQconnectdb(dsn);
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "writers: cannot connect: %s", PQerrorMessage(c));
    PQfinish(c);
    out->errors++;
    return;
  }
  std::string sql = "UPDATE " + table + " SET w = w + 1 WHERE id = $1";
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<long> pick(1, rows);
  while (!stop.load()) {
    std::string id = std::to_string(pick(rng));
    const char* params[] = {id.c_str()};
    auto t0 = std::chrono::steady_clock::now();
    PGresult* r = PQexecParams(c, sql.c_str(), 1, nullptr, params, nullptr, nullptr, 0);
    auto t1 = std::chrono::steady_clock::now();
    if (PQresultStatus(r) != PGRES_COMMAND_OK) out->errors++;
    PQclear(r);
    out->ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  PQfinish(c);
}

}  // namespace

int main(int argc, char** argv) {
  const char* dsn = std::getenv("BENCH_DSN");
  if (argc != 4 || !dsn) {
    std::fprintf(stderr, "usage: BENCH_DSN=... su-bench-writers TABLE ROWS CLIENTS\n");
    return 2;
  }
  long rows = std::atol(argv[2]);
  int clients = std::atoi(argv[3]);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // the threads inherit it; main waits for the signal
  std::vector<Result> results(clients);
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) threads.emplace_back(Writer, dsn, std::string(argv[1]), rows, 1000u + i, &results[i]);
  int sig = 0;
  sigwait(&set, &sig);
  stop = true;
  for (auto& t : threads) t.join();
  std::vector<double> all;
  long errors = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.ms.begin(), r.ms.end());
    errors += r.errors;
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))]; };
  std::printf("%zu %.2f %.2f %.2f %ld\n", all.size(), pct(0.50), pct(0.99), all.empty() ? 0.0 : all.back(), errors);
  return 0;
}
