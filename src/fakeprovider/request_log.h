#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/http/message.h"

namespace tollgate::fakeprovider {

// The last requests the fake provider received, for tests that check what a gateway
// forwarded (which key, which body). A ring buffer: adding beyond `capacity` drops the
// oldest.
//
// Thread safety: all methods are safe from any thread. Add copies the request outside
// the lock and holds it only to insert.
class RequestLog {
 public:
  // Bodies longer than this are cut (and marked "body_truncated": true).
  static constexpr size_t kMaxBodyBytes = 256 * 1024;

  explicit RequestLog(size_t capacity = 100) : capacity_(capacity) {}

  void Add(const server::Request& req);

  // [{"method", "target", "headers": {lower-case name: value}, "body"}], oldest first.
  // Repeated headers are joined with ", ".
  std::string Json() const;

  void Clear();

  size_t size() const;

 private:
  struct Entry {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool truncated = false;
  };

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tollgate::fakeprovider
