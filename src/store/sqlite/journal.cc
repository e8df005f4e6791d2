#include "store/sqlite/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace tollgate::store {
namespace {

constexpr size_t kHeaderBytes = 8;
// A record larger than this is corruption, not an entry (entries are a few hundred
// bytes; the request body limit bounds every string in them).
constexpr uint32_t kMaxPayload = 64u << 20;

uint32_t Crc(std::string_view data) {
  return static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}

void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 8);
}

void PutI64(std::string* out, int64_t v) { PutU64(out, static_cast<uint64_t>(v)); }

void PutStr(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s.data(), s.size());
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Reads fields in order; any overrun clears ok.
struct Reader {
  std::string_view data;
  size_t pos = 0;
  bool ok = true;

  bool Need(size_t n) {
    if (!ok || data.size() - pos < n) ok = false;
    return ok;
  }
  uint64_t U64() {
    if (!Need(8)) return 0;
    uint64_t v = GetU64(data.data() + pos);
    pos += 8;
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(data[pos++]);
  }
  uint32_t U32() {
    if (!Need(4)) return 0;
    uint32_t v = GetU32(data.data() + pos);
    pos += 4;
    return v;
  }
  std::string_view View() {
    uint32_t n = U32();
    if (!Need(n)) return {};
    std::string_view s = data.substr(pos, n);
    pos += n;
    return s;
  }
};

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("ledger journal ", std::string(what), " ", path, ": ", std::strerror(errno)));
}

}  // namespace

void EncodeJournalRecord(uint64_t seq, const LedgerEntry& entry, std::string* out) {
  const size_t start = out->size();
  out->append(kHeaderBytes, '\0');  // filled in below
  const UsageEvent& e = entry.event;
  PutU64(out, seq);
  for (const std::string* s : {&e.event_id, &e.tenant_id, &e.user_id, &e.agent, &e.key_id,
                               &e.request_id, &e.idempotency_key, &e.provider, &e.model,
                               &e.model_used, &e.endpoint, &entry.date}) {
    PutStr(out, *s);
  }
  for (int64_t v : {absl::ToUnixNanos(e.ts), e.usage.input_tokens, e.usage.output_tokens,
                    e.usage.cached_input_tokens, e.usage.cache_write_tokens,
                    e.usage.reasoning_tokens, e.usage.total_tokens, e.cost.input, e.cost.output,
                    e.latency_ms}) {
    PutI64(out, v);
  }
  out->push_back(static_cast<char>(e.status));
  out->push_back(static_cast<char>(e.decision));
  out->push_back(static_cast<char>(e.estimated ? 1 : 0));
  PutU32(out, static_cast<uint32_t>(entry.counters.size()));
  for (const CounterDelta& c : entry.counters) {
    PutStr(out, c.limit_id);
    PutStr(out, c.subject);
    PutI64(out, c.window_start);
    PutI64(out, c.amount);
    PutI64(out, absl::ToUnixNanos(c.expires_at));
  }
  std::string_view payload(out->data() + start + kHeaderBytes, out->size() - start - kHeaderBytes);
  const uint32_t length = static_cast<uint32_t>(payload.size());
  const uint32_t crc = Crc(payload);
  for (int i = 0; i < 4; ++i) {
    (*out)[start + i] = static_cast<char>(length >> (8 * i));
    (*out)[start + 4 + i] = static_cast<char>(crc >> (8 * i));
  }
}

namespace {

// The record at data[pos] if its header and payload are there whole (the checksum is
// not checked): {record, payload}.
std::optional<std::pair<std::string_view, std::string_view>> RecordAt(std::string_view data,
                                                                      size_t pos) {
  if (data.size() - pos < kHeaderBytes) return std::nullopt;
  const uint32_t length = GetU32(data.data() + pos);
  if (length > kMaxPayload || data.size() - pos - kHeaderBytes < length) return std::nullopt;
  return std::make_pair(data.substr(pos, kHeaderBytes + length),
                        data.substr(pos + kHeaderBytes, length));
}

// Reads a payload's sequence number, strings and time into *h, in EncodeJournalRecord's
// order.
void ReadHead(Reader& r, JournalHead* h) {
  h->seq = r.U64();
  for (std::string_view* v : {&h->event_id, &h->tenant_id, &h->user_id, &h->agent, &h->key_id,
                              &h->request_id, &h->idempotency_key, &h->provider, &h->model,
                              &h->model_used, &h->endpoint, &h->date}) {
    *v = r.View();
  }
  h->ts_nanos = r.I64();
}

}  // namespace

std::vector<JournalHead> ReadJournalHeads(std::string_view data, size_t* valid_bytes) {
  std::vector<JournalHead> heads;
  size_t pos = 0;
  // No checksum here: a head only selects; DecodeJournal checks the records kept.
  while (auto found = RecordAt(data, pos)) {
    Reader r{found->second};
    JournalHead h;
    ReadHead(r, &h);
    if (!r.ok) break;
    h.record = found->first;
    heads.push_back(h);
    pos += found->first.size();
  }
  if (valid_bytes != nullptr) *valid_bytes = pos;
  return heads;
}

std::vector<JournalRecord> DecodeJournal(std::string_view data, uint64_t after,
                                         size_t* valid_bytes) {
  std::vector<JournalRecord> records;
  size_t pos = 0;
  uint64_t last_seq = 0;
  bool first = true;
  while (auto found = RecordAt(data, pos)) {
    const auto [record, payload] = *found;
    if (Crc(payload) != GetU32(record.data() + 4)) break;
    Reader r{payload};
    JournalHead h;
    ReadHead(r, &h);
    JournalRecord rec;
    rec.seq = h.seq;
    UsageEvent& e = rec.entry.event;
    e.event_id = h.event_id;
    e.tenant_id = h.tenant_id;
    e.user_id = h.user_id;
    e.agent = h.agent;
    e.key_id = h.key_id;
    e.request_id = h.request_id;
    e.idempotency_key = h.idempotency_key;
    e.provider = h.provider;
    e.model = h.model;
    e.model_used = h.model_used;
    e.endpoint = h.endpoint;
    rec.entry.date = h.date;
    e.ts = absl::FromUnixNanos(h.ts_nanos);
    for (int64_t* v : {&e.usage.input_tokens, &e.usage.output_tokens,
                       &e.usage.cached_input_tokens, &e.usage.cache_write_tokens,
                       &e.usage.reasoning_tokens, &e.usage.total_tokens, &e.cost.input,
                       &e.cost.output, &e.latency_ms}) {
      *v = r.I64();
    }
    const uint8_t status = r.U8();
    const uint8_t decision = r.U8();
    const uint8_t estimated = r.U8();
    const uint32_t counters = r.U32();
    // Each cell takes at least 32 bytes: a count beyond what is left is corruption.
    if (!r.ok || counters > (payload.size() - r.pos) / 32) break;
    if (status > static_cast<uint8_t>(EventStatus::kDenied) ||
        decision > static_cast<uint8_t>(DecisionKind::kShadowDeny) || estimated > 1) {
      break;
    }
    e.status = static_cast<EventStatus>(status);
    e.decision = static_cast<DecisionKind>(decision);
    e.estimated = estimated == 1;
    rec.entry.counters.reserve(counters);
    for (uint32_t i = 0; i < counters; ++i) {
      CounterDelta c;
      c.limit_id = r.View();
      c.subject = r.View();
      c.window_start = r.I64();
      c.amount = r.I64();
      c.expires_at = absl::FromUnixNanos(r.I64());
      rec.entry.counters.push_back(std::move(c));
    }
    if (!r.ok || r.pos != payload.size()) break;
    if (!first && rec.seq <= last_seq) break;
    first = false;
    last_seq = rec.seq;
    pos += record.size();
    if (rec.seq > after) records.push_back(std::move(rec));
  }
  if (valid_bytes != nullptr) *valid_bytes = pos;
  return records;
}

std::string JournalFilePath(const std::string& db_path, uint64_t generation) {
  return absl::StrFormat("%s-ledger-%06d", db_path, generation);
}

std::vector<std::pair<uint64_t, std::string>> ListJournalFiles(const std::string& db_path) {
  std::vector<std::pair<uint64_t, std::string>> files;
  std::filesystem::path db(db_path);
  std::filesystem::path dir = db.parent_path().empty() ? "." : db.parent_path();
  const std::string prefix = db.filename().string() + "-ledger-";
  std::error_code ec;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = f.path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    uint64_t generation = 0;
    if (!absl::SimpleAtoi(absl::string_view(name).substr(prefix.size()), &generation)) continue;
    files.emplace_back(generation, f.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = Errno("read", path);
      close(fd);
      return s;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

absl::Status SyncParentDir(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::string d = dir.empty() ? "." : dir.string();
  int fd = open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open directory", d);
  int rc = fsync(fd);
  absl::Status s = rc == 0 ? absl::OkStatus() : Errno("sync directory", d);
  close(fd);
  return s;
}

JournalFile::JournalFile(JournalFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      size_(other.size_),
      broken_(other.broken_),
      path_(std::move(other.path_)) {}

JournalFile& JournalFile::operator=(JournalFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = other.size_;
    broken_ = other.broken_;
    path_ = std::move(other.path_);
  }
  return *this;
}

JournalFile::~JournalFile() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<JournalFile> JournalFile::Create(const std::string& path, bool sync) {
  JournalFile f;
  f.path_ = path;
  f.fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd_ < 0) return Errno("create", path);
  if (sync) {
    if (fdatasync(f.fd_) != 0) return Errno("sync", path);
    if (absl::Status s = SyncParentDir(path); !s.ok()) return s;
  }
  return f;
}

absl::Status JournalFile::Append(std::string_view data, bool sync) {
  if (broken_ || fd_ < 0) {
    return absl::UnavailableError(absl::StrCat("ledger journal ", path_, " is unusable"));
  }
  absl::Status failed;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd_, data.data() + done, data.size() - done,
                       static_cast<off_t>(size_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      failed = Errno("write", path_);
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (failed.ok() && sync && fdatasync(fd_) != 0) failed = Errno("sync", path_);
  if (!failed.ok()) {
    if (ftruncate(fd_, static_cast<off_t>(size_)) != 0) broken_ = true;
    return failed;
  }
  size_ += data.size();
  return absl::OkStatus();
}

JournalLock::JournalLock(JournalLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

JournalLock& JournalLock::operator=(JournalLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

JournalLock::~JournalLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

absl::StatusOr<JournalLock> JournalLock::Acquire(const std::string& db_path) {
  std::string path = db_path + "-ledger.lock";
  JournalLock lock;
  lock.fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd_ < 0) return Errno("open lock", path);
  if (flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("database ", db_path, " is open in another store (", path, " is locked)"));
    }
    return Errno("lock", path);
  }
  return lock;
}

}  // namespace tollgate::store
