#pragma once

// A thin RAII layer over the SQLite C API: a connection and prepared statements with
// typed binding, and the mapping of SQLite result codes to absl::Status.
//
// Thread safety: a Db and its statements are used by one thread at a time (callers hold
// the mutex that guards the connection). Connections are opened in multi-thread mode.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tollgate::store {

// Unavailable for lock, I/O, disk-full and read-only errors; AlreadyExists for unique
// and primary-key violations; FailedPrecondition for foreign-key and other constraint
// violations; Aborted for a commit refused by a commit hook; DataLoss for corruption;
// Internal otherwise. `rc` is an extended result code.
absl::Status SqliteStatus(int rc, sqlite3* db, std::string_view what);

// A parameter bound as a BLOB (bytes, not text).
struct Blob {
  std::string_view data;
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Stmt& operator=(Stmt&& other) noexcept;
  ~Stmt();

  // `persistent`: the statement is kept for the life of the connection.
  static absl::StatusOr<Stmt> Prepare(sqlite3* db, std::string_view sql, bool persistent = false);

  // Binds parameters 1..n in order and resets the statement first.
  template <typename... Args>
  Stmt& Bind(const Args&... args) {
    Reset();
    int i = 0;
    (BindOne(++i, args), ...);
    return *this;
  }
  // Bind, but text is borrowed rather than copied: each text argument must stay valid
  // until the statement is reset (Run resets it when it ends). For statements run at
  // once on data that outlives them, such as the ledger applier's, where the copies
  // were a measurable part of the work.
  template <typename... Args>
  Stmt& BindBorrowed(const Args&... args) {
    borrow_text_ = true;
    Bind(args...);
    borrow_text_ = false;
    return *this;
  }
  void BindOne(int i, int64_t v);
  void BindOne(int i, int v) { BindOne(i, static_cast<int64_t>(v)); }
  void BindOne(int i, bool v) { BindOne(i, static_cast<int64_t>(v)); }
  void BindOne(int i, std::string_view v);
  void BindOne(int i, const std::string& v) { BindOne(i, std::string_view(v)); }
  void BindOne(int i, const char* v) { BindOne(i, std::string_view(v)); }
  void BindOne(int i, std::nullptr_t);
  void BindOne(int i, Blob v);

  // true: a row is available; false: done.
  absl::StatusOr<bool> Step();
  // Steps to completion, ignoring rows.
  absl::Status Run();
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const;
  // The bytes of a BLOB (or text) column, valid until the next Step or Reset.
  std::string_view BlobView(int col) const;
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

  sqlite3_stmt* get() const { return stmt_; }

 private:
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  sqlite3_stmt* stmt_ = nullptr;
  bool borrow_text_ = false;  // set only within BindBorrowed
};

// An open connection. Closing finalizes nothing: every Stmt must be destroyed first.
class Db {
 public:
  Db() = default;
  // Opens (creating) `path` read-write, extended result codes on, and sets
  // busy_timeout (milliseconds) and foreign_keys=ON.
  static absl::StatusOr<Db> Open(const std::string& path, int busy_timeout_ms);

  sqlite3* get() const { return db_.get(); }
  explicit operator bool() const { return db_ != nullptr; }

  // Runs constant SQL without parameters (pragmas, migration scripts, BEGIN/COMMIT).
  absl::Status Exec(const char* sql);
  // Rolls back the open transaction, if any.
  void RollbackIfOpen();

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace tollgate::store
