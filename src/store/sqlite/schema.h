#pragma once

// The SQLite schema as an ordered list of migrations. Migration i (1-based) takes a
// database from user_version i-1 to i. Append new migrations; never edit a shipped one.

#include "absl/status/statusor.h"
#include "store/sqlite/sqlite_db.h"

namespace tollgate::store {

// The schema version this build writes.
int LatestSchemaVersion();

// Applies every pending migration, each in its own BEGIN IMMEDIATE transaction that
// also sets PRAGMA user_version, so a crash leaves the database at a whole version and
// concurrent migrators do not apply a step twice. FailedPrecondition when the database
// is newer than this build. Returns the version reached.
// REQUIRES: no transaction open on `db`.
absl::StatusOr<int> Migrate(Db& db);

}  // namespace tollgate::store
