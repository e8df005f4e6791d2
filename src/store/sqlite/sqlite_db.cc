#include "store/sqlite/sqlite_db.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "store/codec.h"

namespace tollgate::store {

absl::Status SqliteStatus(int rc, sqlite3* db, std::string_view what) {
  // The connection's message is more specific when it describes this error.
  const char* detail = (db != nullptr && sqlite3_extended_errcode(db) == rc) ? sqlite3_errmsg(db)
                                                                             : sqlite3_errstr(rc);
  std::string msg = absl::StrCat("sqlite: ", ToAbsl(what), ": ", detail);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
          return absl::AlreadyExistsError(msg);
        case SQLITE_CONSTRAINT_COMMITHOOK:
          return absl::AbortedError(msg);
        default:
          return absl::FailedPreconditionError(msg);
      }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
    case SQLITE_PERM:
      return absl::UnavailableError(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(msg);
    default:
      return absl::InternalError(msg);
  }
}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

absl::StatusOr<Stmt> Stmt::Prepare(sqlite3* db, std::string_view sql, bool persistent) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              persistent ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteStatus(rc, db, "prepare");
  }
  return Stmt(stmt);
}

void Stmt::BindOne(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }

void Stmt::BindOne(int i, std::string_view v) {
  // SQLITE_TRANSIENT: the statement copies, so the caller's buffer may go away.
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                    borrow_text_ ? SQLITE_STATIC : SQLITE_TRANSIENT);
}

void Stmt::BindOne(int i, std::nullptr_t) { sqlite3_bind_null(stmt_, i); }

void Stmt::BindOne(int i, Blob v) {
  sqlite3_bind_blob(stmt_, i, v.data.data(), static_cast<int>(v.data.size()),
                    borrow_text_ ? SQLITE_STATIC : SQLITE_TRANSIENT);
}

std::string_view Stmt::BlobView(int col) const {
  const void* data = sqlite3_column_blob(stmt_, col);
  const int size = sqlite3_column_bytes(stmt_, col);
  return data == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(data), size);
}

absl::StatusOr<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(sqlite3_extended_errcode(sqlite3_db_handle(stmt_)), sqlite3_db_handle(stmt_),
                      "step");
}

absl::Status Stmt::Run() {
  for (;;) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) {
      Reset();
      return row.status();
    }
    if (!*row) break;
  }
  Reset();
  return absl::OkStatus();
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col));
}

absl::StatusOr<Db> Db::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db;
  db.db_.reset(raw);
  if (rc != SQLITE_OK) return SqliteStatus(rc, raw, absl::StrCat("open ", path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  if (absl::Status s = db.Exec("PRAGMA foreign_keys = ON"); !s.ok()) return s;
  return db;
}

absl::Status Db::Exec(const char* sql) {
  int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(sqlite3_extended_errcode(db_.get()), db_.get(), "exec");
  return absl::OkStatus();
}

void Db::RollbackIfOpen() {
  if (!sqlite3_get_autocommit(db_.get())) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

}  // namespace tollgate::store
