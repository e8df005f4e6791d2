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
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  // Ids name records, they do not authorise anything (secrets come from NewSecret), so a
  // per-thread generator seeded from the OS is enough and keeps this off the hot path.
  thread_local absl::BitGen gen;
  std::string id;
  id.reserve(prefix.size() + 25);
  id.append(prefix);
  id.push_back('_');
  for (int i = 0; i < 24; ++i) id.push_back(kAlphabet[absl::Uniform(gen, 0, 36)]);
  return id;
}

std::string NewTimeOrderedId(std::string_view prefix, int64_t micros) {
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  thread_local absl::BitGen gen;
  std::string id(prefix);
  id.push_back('_');
  uint64_t t = micros < 0 ? 0 : static_cast<uint64_t>(micros);
  char time_part[10];
  for (int i = 9; i >= 0; --i, t /= 36) time_part[i] = kAlphabet[t % 36];
  id.append(time_part, 10);
  for (int i = 0; i < 14; ++i) id.push_back(kAlphabet[absl::Uniform(gen, 0, 36)]);
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
