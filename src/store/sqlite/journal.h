#pragma once

// The ledger journal of the SQLite store: append-only files of checksummed records, one
// LedgerEntry each, written (and synced) before an Append is acknowledged and applied
// to SQLite later in large transactions. See docs/storage.md, "Ledger journal".
//
// Files live beside the database: "<db path>-ledger-<generation>", generation a decimal
// number that grows by one per rotation. Record layout (little-endian):
//
//   u32 payload length | u32 crc32 (zlib) of the payload | payload
//   payload: u64 sequence number | the entry's fields (EncodeJournalRecord)
//
// Sequence numbers grow by one per record across files and restarts; the store keeps
// the last one applied to SQLite in the same transaction as the entries.
//
// Thread safety: the free functions are stateless; a JournalFile is used by one thread
// at a time.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tollgate/store.h"

namespace tollgate::store {

struct JournalRecord {
  uint64_t seq = 0;
  LedgerEntry entry;
};

// Appends the record of (seq, entry) to *out.
void EncodeJournalRecord(uint64_t seq, const LedgerEntry& entry, std::string* out);

// Decodes the records at the start of `data` whose sequence numbers exceed `after`,
// in order. Stops at the first record that is cut short, fails its checksum or does
// not decode, or whose sequence number does not exceed the previous record's: that is
// a torn tail (a write the crash interrupted, never acknowledged). *valid_bytes (when
// not null) receives the length of the prefix that decoded.
std::vector<JournalRecord> DecodeJournal(std::string_view data, uint64_t after,
                                         size_t* valid_bytes = nullptr);

// A record's bytes and its sequence number, strings and time (what a listing filters and
// orders on, and a key lookup matches), as views into the data it was read from (valid
// while that is).
struct JournalHead {
  std::string_view record;  // header included: DecodeJournal(record, 0) decodes it
  uint64_t seq = 0;
  std::string_view event_id, tenant_id, user_id, agent, key_id, request_id, idempotency_key,
      provider, model, model_used, endpoint, date;
  int64_t ts_nanos = 0;
};

// The heads of the records at the start of `data`, without decoding the rest of each
// record or checking its checksum: a listing selects by head and decodes (and checks)
// only the records it keeps. The list ends at a record cut short. *valid_bytes (when not null)
// receives the length of the prefix read.
std::vector<JournalHead> ReadJournalHeads(std::string_view data, size_t* valid_bytes = nullptr);

// Journal files of the database at `db_path`, as (generation, path), oldest first.
std::vector<std::pair<uint64_t, std::string>> ListJournalFiles(const std::string& db_path);
std::string JournalFilePath(const std::string& db_path, uint64_t generation);

// Reads a whole file; Unavailable on I/O errors.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// Syncs the directory holding `path`, so that a file created or removed in it stays so
// after power loss.
absl::Status SyncParentDir(const std::string& path);

// One journal file open for appending. Move-only.
class JournalFile {
 public:
  JournalFile() = default;
  JournalFile(JournalFile&& other) noexcept;
  JournalFile& operator=(JournalFile&& other) noexcept;
  ~JournalFile();

  // Creates `path` (truncating any file there) and, with `sync`, syncs its directory.
  static absl::StatusOr<JournalFile> Create(const std::string& path, bool sync);

  // Writes `data` at the end of the file in one write (retried on short writes) and,
  // with `sync`, fdatasyncs it. On failure the file is cut back to its previous length
  // so that later records are not stranded behind garbage; if that fails too, the file
  // is broken and every later Append fails (Unavailable).
  absl::Status Append(std::string_view data, bool sync);

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  bool broken_ = false;
  std::string path_;
};

// Holds an exclusive advisory lock (flock) on "<db path>-ledger.lock" for its lifetime,
// so that two stores never write the journal of one database.
class JournalLock {
 public:
  JournalLock() = default;
  JournalLock(JournalLock&& other) noexcept;
  JournalLock& operator=(JournalLock&& other) noexcept;
  ~JournalLock();
  // FailedPrecondition when another store holds it.
  static absl::StatusOr<JournalLock> Acquire(const std::string& db_path);

 private:
  int fd_ = -1;
};

}  // namespace tollgate::store
