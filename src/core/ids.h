#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tollgate::core {

// Ids of tenants, users and agents: 1–128 characters of [A-Za-z0-9._:@-].
bool IsValidId(std::string_view id);

// A new random id: `prefix` + "_" + 24 characters of [0-9a-z] (about 124 bits), from a
// per-thread generator seeded by the OS: unique, not a secret.
std::string NewId(std::string_view prefix);

// As NewId, but the first 10 characters encode `micros` (microseconds since the epoch,
// base 36, zero-padded), so ids made later sort later: index inserts then append
// instead of touching a random page. `prefix` + "_" + 10 + 14 random characters.
std::string NewTimeOrderedId(std::string_view prefix, int64_t micros);

// A new API key secret: "tg_" + 43 characters of base64url (32 random bytes).
std::string NewSecret();

// Lower-case hex SHA-256 of `data`: how key secrets are stored.
std::string Sha256Hex(std::string_view data);

// Constant-time equality for secrets and hashes.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace tollgate::core
