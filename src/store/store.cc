#include "tollgate/store.h"

#include <utility>

#include "absl/synchronization/notification.h"

namespace tollgate {

void Store::AppendAll(std::vector<Appending> entries) {
  for (Appending& a : entries) Append(std::move(a.entry), std::move(a.done));
}

absl::Status Store::AppendSync(LedgerEntry entry) {
  absl::Notification committed;
  absl::Status result;
  Append(std::move(entry), [&](absl::Status status) {
    result = std::move(status);
    committed.Notify();
  });
  committed.WaitForNotification();
  return result;
}

}  // namespace tollgate
