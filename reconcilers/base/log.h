// Structured logging: one event per line, `ts=... level=... event=... key=value ...`, to stderr
// (or a sink set by tests). Every line passes through Scrub(), so secrets never reach a log.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <utility>

namespace su {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

using LogField = std::pair<std::string, std::string>;

// Emits one event. Values containing spaces, quotes or '=' are quoted.
void Log(LogLevel level, const std::string& event, std::initializer_list<LogField> fields = {});
inline void LogInfo(const std::string& e, std::initializer_list<LogField> f = {}) { Log(LogLevel::kInfo, e, f); }
inline void LogWarn(const std::string& e, std::initializer_list<LogField> f = {}) { Log(LogLevel::kWarn, e, f); }
inline void LogError(const std::string& e, std::initializer_list<LogField> f = {}) { Log(LogLevel::kError, e, f); }
inline void LogDebug(const std::string& e, std::initializer_list<LogField> f = {}) { Log(LogLevel::kDebug, e, f); }

// Minimum level printed (default kInfo; SU_LOG_LEVEL=debug|info|warn|error overrides at start).
void SetLogLevel(LogLevel level);
// Replaces the sink (default: stderr). The sink receives scrubbed, formatted lines without '\n'.
void SetLogSink(std::function<void(const std::string&)> sink);
// Formats a single key=value, quoting when needed (exposed for tests and status lines).
std::string FormatField(const std::string& key, const std::string& value);

}  // namespace su
