#pragma once

// Encodings and checks shared by every store backend, so that they agree on what is
// valid and on how opaque values (cursors, dates) look.
// Thread safety: free functions without state.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tollgate/store.h"
#include "tollgate/types.h"

namespace tollgate::store {

// Debian's Abseil has its own string_view type.
inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

// InvalidArgument when the entry cannot be recorded (empty event_id or tenant_id, a
// counter cell without limit_id).
absl::Status ValidateEntry(const LedgerEntry& entry);

// InvalidArgument when limit is outside 1..1000.
absl::Status ValidateFilter(const EventFilter& filter);

// The daily-aggregate date of an entry: entry.date, or the UTC date of event.ts.
std::string DailyDate(const LedgerEntry& entry);
// The model a daily row is kept under: model_used, or model when that is empty.
const std::string& DailyModel(const UsageEvent& event);

// Keyset cursor for ListEvents: the (ts in unix nanoseconds, event_id) of the last row
// of a page, URL-safe base64.
struct CursorKey {
  int64_t ts_nanos = 0;
  std::string event_id;
};
std::string EncodeCursor(int64_t ts_nanos, std::string_view event_id);
absl::StatusOr<CursorKey> DecodeCursor(std::string_view cursor);

std::optional<DecisionKind> ParseDecision(std::string_view s);

// Tenant a record belongs to for referential integrity: a concrete tenant id, or ""
// for none (global records and "*" defaults).
std::string_view TenantRef(std::string_view tenant_id);

// JSON text of the list-valued limit fields. Decoding fails with DataLoss.
std::string StringsToJson(const std::vector<std::string>& v);
absl::StatusOr<std::vector<std::string>> StringsFromJson(std::string_view json);
std::string DoublesToJson(const std::vector<double>& v);
absl::StatusOr<std::vector<double>> DoublesFromJson(std::string_view json);

// absl::Time as stored: unix nanoseconds (saturating at the int64 range).
inline int64_t ToNanos(absl::Time t) { return absl::ToUnixNanos(t); }
inline absl::Time FromNanos(int64_t n) { return absl::FromUnixNanos(n); }

}  // namespace tollgate::store
