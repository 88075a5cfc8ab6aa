// Structured logger (see log.h).
#include "reconcilers/base/log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string_view>

#include "reconcilers/base/secrets.h"

namespace su {
namespace {

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}

LogLevel InitialLevel() {
  const char* e = std::getenv("SU_LOG_LEVEL");
  if (!e) return LogLevel::kInfo;
  std::string_view v(e);
  if (v == "debug") return LogLevel::kDebug;
  if (v == "warn") return LogLevel::kWarn;
  if (v == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

LogLevel& Level() {
  static LogLevel level = InitialLevel();
  return level;
}

std::function<void(const std::string&)>& Sink() {
  static std::function<void(const std::string&)> sink = [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
  };
  return sink;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

std::string FormatField(const std::string& key, const std::string& value) {
  bool quote = value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') quote = true;
  }
  if (!quote) return key + "=" + value;
  std::string out = key + "=\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void Log(LogLevel level, const std::string& event, std::initializer_list<LogField> fields) {
  if (level < Level()) return;
  std::string line = "ts=" + Timestamp() + " level=" + LevelName(level) + " event=" + event;
  for (const auto& [k, v] : fields) line += " " + FormatField(k, v);
  line = Scrub(line);
  std::lock_guard<std::mutex> l(Mu());
  Sink()(line);
}

void SetLogLevel(LogLevel level) { Level() = level; }

void SetLogSink(std::function<void(const std::string&)> sink) {
  std::lock_guard<std::mutex> l(Mu());
  Sink() = std::move(sink);
}

}  // namespace su
