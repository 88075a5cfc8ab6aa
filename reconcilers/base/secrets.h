// Secret scrubbing: every secret the process learns (DSN passwords, tokens) is registered here,
// and every line the process prints (logs, status, events, errors) passes through Scrub().
// Also strips passwords from anything shaped like a DSN, registered or not.
#pragma once

#include <string>

namespace su {

// Registers a secret value; later Scrub() calls replace it with "***". Thread-safe.
// Values shorter than 3 characters are ignored (they would mangle ordinary text).
void RegisterSecret(const std::string& value);

// Registers the password (and any `password=` value) found in a DSN: URL form
// postgres://user:pass@host/db or keyword form "host=... password=...".
void RegisterDsnSecrets(const std::string& dsn);

// Returns text with every registered secret and every DSN password replaced by "***".
std::string Scrub(const std::string& text);

// Returns a DSN fit for display: password replaced by "***".
std::string RedactDsn(const std::string& dsn);

}  // namespace su
