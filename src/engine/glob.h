#pragma once

#include <string_view>

namespace tollgate::engine {

// True when `text` matches `pattern`, in which `*` stands for any run of characters
// (also none) and every other character stands for itself. Case-sensitive. Runs in
// O(|pattern| * |text|) time at worst and allocates nothing.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace tollgate::engine
