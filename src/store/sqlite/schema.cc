#include "store/sqlite/schema.h"

#include <array>

#include "absl/strings/str_cat.h"

namespace tollgate::store {
namespace {

// Times are INTEGER unix nanoseconds, money INTEGER nano-USD, enums their lower-case
// names. tenant_ref columns hold the concrete tenant a record belongs to (NULL for
// global records and "*" defaults) so that deleting a tenant cascades.
constexpr std::array<const char*, 3> kMigrations = {
    // 1: initial schema.
    R"sql(
CREATE TABLE tenants (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  timezone    TEXT NOT NULL,
  mode        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,
  role         TEXT NOT NULL,
  tenant_ref   TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  user_id      TEXT NOT NULL,
  name         TEXT NOT NULL,
  secret_hash  TEXT NOT NULL,
  created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys(secret_hash);
CREATE INDEX api_keys_tenant ON api_keys(tenant_ref);

CREATE TABLE limits (
  id                TEXT PRIMARY KEY,
  tenant_ref        TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  scope_level       TEXT NOT NULL,
  scope_tenant_id   TEXT NOT NULL,
  scope_subject_id  TEXT NOT NULL,
  metric            TEXT NOT NULL,
  window_unit       TEXT NOT NULL,
  window_size       INTEGER NOT NULL,
  window_kind       TEXT NOT NULL,
  limit_value       INTEGER NOT NULL,
  models            TEXT NOT NULL,  -- JSON array of provider:model globs
  action            TEXT NOT NULL,
  mode              TEXT NOT NULL,
  alert_thresholds  TEXT NOT NULL,  -- JSON array of numbers
  owner             TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
);
CREATE INDEX limits_tenant ON limits(tenant_ref);

CREATE TABLE prices (
  provider               TEXT NOT NULL,
  model                  TEXT NOT NULL,
  input_per_mtok         INTEGER NOT NULL,
  output_per_mtok        INTEGER NOT NULL,
  cached_input_per_mtok  INTEGER NOT NULL,
  cache_write_per_mtok   INTEGER NOT NULL,
  tier                   TEXT NOT NULL,
  PRIMARY KEY (provider, model)
) WITHOUT ROWID;

CREATE TABLE policies (
  level       TEXT NOT NULL,
  tenant_id   TEXT NOT NULL,
  user_id     TEXT NOT NULL,
  tenant_ref  TEXT REFERENCES tenants(id) ON DELETE CASCADE,
  json        TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (level, tenant_id, user_id)
);
CREATE INDEX policies_tenant ON policies(tenant_ref);

CREATE TABLE events (
  event_id             TEXT NOT NULL UNIQUE,
  ts                   INTEGER NOT NULL,
  tenant_id            TEXT NOT NULL,
  user_id              TEXT NOT NULL,
  agent                TEXT NOT NULL,
  key_id               TEXT NOT NULL,
  request_id           TEXT NOT NULL,
  idempotency_key      TEXT NOT NULL,
  provider             TEXT NOT NULL,
  model                TEXT NOT NULL,
  model_used           TEXT NOT NULL,
  endpoint             TEXT NOT NULL,
  input_tokens         INTEGER NOT NULL,
  output_tokens        INTEGER NOT NULL,
  cached_input_tokens  INTEGER NOT NULL,
  cache_write_tokens   INTEGER NOT NULL,
  reasoning_tokens     INTEGER NOT NULL,
  total_tokens         INTEGER NOT NULL,
  input_cost           INTEGER NOT NULL,
  output_cost          INTEGER NOT NULL,
  latency_ms           INTEGER NOT NULL,
  status               TEXT NOT NULL,
  decision             TEXT NOT NULL,
  estimated            INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_idempotency ON events(tenant_id, idempotency_key)
  WHERE idempotency_key <> '';
CREATE INDEX events_ts ON events(ts, event_id);
CREATE INDEX events_tenant_ts ON events(tenant_id, ts, event_id);
CREATE INDEX events_user ON events(tenant_id, user_id, ts);
CREATE INDEX events_model ON events(tenant_id, model_used, ts);

CREATE TABLE counters (
  limit_id      TEXT NOT NULL,
  subject       TEXT NOT NULL,
  window_start  INTEGER NOT NULL,  -- unix seconds
  amount        INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL,
  PRIMARY KEY (limit_id, subject, window_start)
) WITHOUT ROWID;
CREATE INDEX counters_expiry ON counters(expires_at);

CREATE TABLE daily (
  date                 TEXT NOT NULL,  -- YYYY-MM-DD in the tenant's time zone
  tenant_id            TEXT NOT NULL,
  user_id              TEXT NOT NULL,
  agent                TEXT NOT NULL,
  provider             TEXT NOT NULL,
  model                TEXT NOT NULL,
  input_tokens         INTEGER NOT NULL,
  output_tokens        INTEGER NOT NULL,
  cached_input_tokens  INTEGER NOT NULL,
  cache_write_tokens   INTEGER NOT NULL,
  reasoning_tokens     INTEGER NOT NULL,
  total_tokens         INTEGER NOT NULL,
  input_cost           INTEGER NOT NULL,
  output_cost          INTEGER NOT NULL,
  requests             INTEGER NOT NULL,
  PRIMARY KEY (date, tenant_id, user_id, agent, provider, model)
) WITHOUT ROWID;
CREATE INDEX daily_tenant ON daily(tenant_id, date);
)sql",
    // 2: a cheaper ledger write path. events is keyed on event_id without a rowid (event
    // ids are time-ordered, so inserts go to the right edge of the table), the index on
    // (tenant_id, model_used, ts) goes (ListEvents' model filter is "model = ? OR
    // model_used = ?", which it cannot serve) and so does counters_expiry (the counter
    // table is small and LoadCounters reads all of it). ledger_state holds the sequence
    // number of the last journal record applied, written in the same transaction as the
    // entries.
    R"sql(
CREATE TABLE events_v2 (
  event_id             TEXT NOT NULL PRIMARY KEY,
  ts                   INTEGER NOT NULL,
  tenant_id            TEXT NOT NULL,
  user_id              TEXT NOT NULL,
  agent                TEXT NOT NULL,
  key_id               TEXT NOT NULL,
  request_id           TEXT NOT NULL,
  idempotency_key      TEXT NOT NULL,
  provider             TEXT NOT NULL,
  model                TEXT NOT NULL,
  model_used           TEXT NOT NULL,
  endpoint             TEXT NOT NULL,
  input_tokens         INTEGER NOT NULL,
  output_tokens        INTEGER NOT NULL,
  cached_input_tokens  INTEGER NOT NULL,
  cache_write_tokens   INTEGER NOT NULL,
  reasoning_tokens     INTEGER NOT NULL,
  total_tokens         INTEGER NOT NULL,
  input_cost           INTEGER NOT NULL,
  output_cost          INTEGER NOT NULL,
  latency_ms           INTEGER NOT NULL,
  status               TEXT NOT NULL,
  decision             TEXT NOT NULL,
  estimated            INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO events_v2 SELECT event_id, ts, tenant_id, user_id, agent, key_id, request_id,
  idempotency_key, provider, model, model_used, endpoint, input_tokens, output_tokens,
  cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens, input_cost,
  output_cost, latency_ms, status, decision, estimated FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE UNIQUE INDEX events_idempotency ON events(tenant_id, idempotency_key)
  WHERE idempotency_key <> '';
CREATE INDEX events_ts ON events(ts, event_id);
CREATE INDEX events_tenant_ts ON events(tenant_id, ts, event_id);
CREATE INDEX events_user ON events(tenant_id, user_id, ts);
DROP INDEX counters_expiry;

CREATE TABLE ledger_state (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  applied_seq  INTEGER NOT NULL
);
INSERT INTO ledger_state (id, applied_seq) VALUES (1, 0);
)sql",
    // 3: events in blocks. The events of one tenant applied in one transaction are one
    // row of event_blocks (their journal records, concatenated); event_keys and
    // event_ids answer the duplicate tests and lead to the block. Five b-tree inserts
    // per event become two, one of them at the right edge. The rows of the old events
    // table are moved into blocks when the store opens (the encoding is C++), which then
    // drops it.
    R"sql(
CREATE TABLE event_blocks (
  block_id   INTEGER PRIMARY KEY,
  tenant_id  TEXT NOT NULL,
  min_ts     INTEGER NOT NULL,
  max_ts     INTEGER NOT NULL,
  events     INTEGER NOT NULL,
  data       BLOB NOT NULL
);
CREATE INDEX event_blocks_tenant ON event_blocks(tenant_id, max_ts);
CREATE INDEX event_blocks_ts ON event_blocks(max_ts);
CREATE INDEX event_blocks_min_ts ON event_blocks(min_ts);
CREATE TABLE event_keys (
  tenant_id        TEXT NOT NULL,
  idempotency_key  TEXT NOT NULL,
  block_id         INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, idempotency_key)
) WITHOUT ROWID;
CREATE TABLE event_ids (
  event_id  TEXT NOT NULL PRIMARY KEY,
  block_id  INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
};

absl::StatusOr<int> UserVersion(Db& db) {
  absl::StatusOr<Stmt> stmt = Stmt::Prepare(db.get(), "PRAGMA user_version");
  if (!stmt.ok()) return stmt.status();
  absl::StatusOr<bool> row = stmt->Step();
  if (!row.ok()) return row.status();
  return *row ? static_cast<int>(stmt->Int(0)) : 0;
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

absl::StatusOr<int> Migrate(Db& db) {
  const int latest = LatestSchemaVersion();
  for (;;) {
    if (absl::Status s = db.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    absl::StatusOr<int> version = UserVersion(db);
    absl::Status s = version.status();
    if (s.ok() && *version > latest) {
      s = absl::FailedPreconditionError(absl::StrCat("database schema version ", *version,
                                                     " is newer than this build (", latest, ")"));
    }
    if (s.ok() && *version == latest) {
      s = db.Exec("COMMIT");
      if (s.ok()) return latest;
    }
    if (s.ok()) {
      s = db.Exec(kMigrations[*version]);
      if (!s.ok())
        s = absl::Status(s.code(), absl::StrCat("migration ", *version + 1, ": ", s.message()));
    }
    if (s.ok()) {
      // PRAGMA takes no parameters; the value is our own integer.
      s = db.Exec(absl::StrCat("PRAGMA user_version = ", *version + 1).c_str());
    }
    if (s.ok()) s = db.Exec("COMMIT");
    if (!s.ok()) {
      db.RollbackIfOpen();
      return s;
    }
  }
}

}  // namespace tollgate::store
