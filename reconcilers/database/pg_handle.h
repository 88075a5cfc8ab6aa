// RAII owners for libpq handles. Only files in reconcilers/database include libpq.
#pragma once

#include <libpq-fe.h>

#include <memory>

namespace su {

struct PgConnDeleter {
  void operator()(PGconn* c) const { if (c) PQfinish(c); }
};
struct PgResultDeleter {
  void operator()(PGresult* r) const { if (r) PQclear(r); }
};
struct PgCancelDeleter {
  void operator()(PGcancel* c) const { if (c) PQfreeCancel(c); }
};

using PgConn = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;
using PgCancel = std::unique_ptr<PGcancel, PgCancelDeleter>;

}  // namespace su
