#pragma once

// Helpers for the providers tests.

#include <boost/json.hpp>
#include <string_view>

#include "gtest/gtest.h"

namespace tollgate::providers::testing {

inline boost::json::value Json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << text;
  return v;
}

inline boost::json::object Object(std::string_view text) {
  boost::json::value v = Json(text);
  EXPECT_TRUE(v.is_object()) << text;
  return v.is_object() ? v.get_object() : boost::json::object();
}

}  // namespace tollgate::providers::testing
