# Writes a C++ source defining tollgate::providers::EmbeddedPriceCatalogJson() from a
# JSON file, as a byte array, so the catalog is compiled into the binary.
# Usage: cmake -DINPUT=<prices.json> -DOUTPUT=<file.cc> -P embed_prices.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
file(WRITE "${OUTPUT}.tmp" "// Generated from data/prices.json by src/providers/embed_prices.cmake.
#include <cstddef>
#include <string_view>

namespace tollgate::providers {
namespace {
constexpr char kPrices[] = {
    ${bytes}'\\0'};
}  // namespace

std::string_view EmbeddedPriceCatalogJson() { return std::string_view(kPrices, ${size}); }

}  // namespace tollgate::providers
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
