// FreeTcpPort: a 127.0.0.1 port the kernel just handed out and released, for a test server to
// listen on (PostgreSQL, the controller's HTTP endpoints). 0 if none could be had.
#pragma once

namespace su::testing {

int FreeTcpPort();

}  // namespace su::testing
