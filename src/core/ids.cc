#include "core/ids.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>
#include <memory>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"

namespace tollgate::core {
namespace {

void RandomBytes(unsigned char* out, int n) {
  if (RAND_bytes(out, n) != 1) std::abort();  // no entropy: nothing safe to do
}

constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";

// Appends `n` uniformly random characters of kAlphabet. Ids name records, they do
// not authorise anything (secrets come from NewSecret), so a per-thread generator
// seeded from the OS is enough and keeps this off the hot path. Each 64-bit draw gives
// 12 base-36 digits: a draw is uniform over [0, 3 * 36^12) once the top 23% are redrawn.
void AppendRandomChars(int n, std::string& out) {
  constexpr uint64_t kDigits12 = 4'738'381'338'321'616'896ULL;  // 36^12
  thread_local absl::BitGen gen;
  while (n > 0) {
    uint64_t v;
    do {
      v = absl::Uniform<uint64_t>(gen);
    } while (v >= 3 * kDigits12);
    v %= kDigits12;
    for (int i = 0; i < 12 && n > 0; ++i, --n, v /= 36) out.push_back(kAlphabet[v % 36]);
  }
}

}  // namespace

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string NewId(std::string_view prefix) {
  std::string id;
  id.reserve(prefix.size() + 25);
  id.append(prefix);
  id.push_back('_');
  AppendRandomChars(24, id);
  return id;
}

std::string NewTimeOrderedId(std::string_view prefix, int64_t micros) {
  std::string id;
  id.reserve(prefix.size() + 25);
  id.append(prefix);
  id.push_back('_');
  uint64_t t = micros < 0 ? 0 : static_cast<uint64_t>(micros);
  char time_part[10];
  for (int i = 9; i >= 0; --i, t /= 36) time_part[i] = kAlphabet[t % 36];
  id.append(time_part, 10);
  AppendRandomChars(14, id);
  return id;
}

std::string NewSecret() {
  std::array<unsigned char, 32> bytes;
  RandomBytes(bytes.data(), bytes.size());
  std::string b64 = absl::WebSafeBase64Escape(
      absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  return "tg_" + b64;
}

std::string Sha256Hex(std::string_view data) {
  // Fetched once: an implicit fetch on every call costs more than the hashing itself.
  // So would a context per call: each thread keeps one (freed when the thread ends).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                                       EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (sha256 == nullptr || ctx == nullptr || EVP_DigestInit_ex2(ctx.get(), sha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &len) != 1)
    std::abort();  // no SHA-256 in libcrypto: nothing safe to do
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace tollgate::core
