#include "server/common/json_util.h"

#include <boost/json/parse.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace tollgate::server {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

boost::json::object Obj(std::string_view text) {
  auto o = ParseJsonObject(text);
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : boost::json::object();
}

TEST(ParseJsonTest, RejectsMalformed) {
  auto v = ParseJson(R"({"a": 1,})");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(v.status()), HasSubstr("malformed JSON at byte"));
  EXPECT_FALSE(ParseJson("{\"a\": 1} x").ok());
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson("\"\xff\"").ok());  // invalid UTF-8
}

TEST(ParseJsonTest, RejectsDeepNesting) {
  std::string deep(33, '[');
  deep += std::string(33, ']');
  auto v = ParseJson(deep);
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(Message(v.status()), HasSubstr("nested too deep"));
  std::string ok(32, '[');
  ok += std::string(32, ']');
  EXPECT_TRUE(ParseJson(ok).ok());
}

TEST(ParseJsonTest, ObjectRequired) {
  auto v = ParseJsonObject("[1]");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(Message(v.status()), HasSubstr("must be a JSON object"));
}

TEST(JsonReaderTest, NonNegativeIntAcceptsRange) {
  auto o = Obj(R"({"a": 0, "b": 9223372036854775807})");
  JsonReader r(o);
  EXPECT_EQ(*r.RequiredNonNegativeInt("a"), 0);
  EXPECT_EQ(*r.RequiredNonNegativeInt("b"), INT64_MAX);
  EXPECT_FALSE(r.NonNegativeInt("missing")->has_value());
}

TEST(JsonReaderTest, NonNegativeIntRejectsBadValuesNamingTheField) {
  for (const char* bad : {R"({"input_tokens": -1})", R"({"input_tokens": 9223372036854775808})",
                          R"({"input_tokens": 18446744073709551616})", R"({"input_tokens": 1.5})",
                          R"({"input_tokens": 5.0})", R"({"input_tokens": 1e3})",
                          R"({"input_tokens": "5"})", R"({"input_tokens": true})"}) {
    auto o = Obj(bad);
    auto v = JsonReader(o).NonNegativeInt("input_tokens");
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(Message(v.status()), "field 'input_tokens' must be a non-negative integer below 2^63")
        << bad;
  }
}

TEST(JsonReaderTest, MissingRequiredFieldIsNamed) {
  auto o = Obj(R"({})");
  auto v = JsonReader(o).RequiredString("user_id");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(Message(v.status()), "field 'user_id' is required");
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JsonReaderTest, NullCountsAsAbsent) {
  auto o = Obj(R"({"agent": null})");
  JsonReader r(o);
  EXPECT_FALSE(r.String("agent")->has_value());
  EXPECT_FALSE(r.RequiredString("agent").ok());
}

TEST(JsonReaderTest, WrongTypesAreNamed) {
  auto o = Obj(R"({"s": 1, "b": "yes", "d": "1.0", "arr": ["a", 2], "o": []})");
  JsonReader r(o);
  EXPECT_EQ(Message(r.String("s").status()), "field 's' must be a string");
  EXPECT_EQ(Message(r.Bool("b").status()), "field 'b' must be true or false");
  EXPECT_EQ(Message(r.Double("d").status()), "field 'd' must be a number");
  EXPECT_EQ(Message(r.StringArray("arr").status()), "field 'arr' must be an array of strings");
  EXPECT_EQ(Message(r.Object("o").status()), "field 'o' must be an object");
}

TEST(JsonReaderTest, ReadsTypedValues) {
  auto o = Obj(R"({"s": "x", "b": false, "d": 2, "e": 0.5, "arr": ["a", "b"], "i": -4})");
  JsonReader r(o);
  EXPECT_EQ(*r.RequiredString("s"), "x");
  EXPECT_EQ(*r.RequiredBool("b"), false);
  EXPECT_EQ(*r.RequiredDouble("d"), 2.0);
  EXPECT_EQ(*r.RequiredDouble("e"), 0.5);
  EXPECT_EQ(*r.RequiredInt("i"), -4);
  EXPECT_THAT(*r.RequiredStringArray("arr"), ::testing::ElementsAre("a", "b"));
}

TEST(JsonReaderTest, NestedObjectErrorsCarryThePath) {
  auto o = Obj(R"({"usage": {"input_tokens": -3}})");
  auto usage = JsonReader(o).RequiredObject("usage");
  ASSERT_TRUE(usage.ok());
  auto v = usage->NonNegativeInt("input_tokens");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(Message(v.status()), HasSubstr("field 'usage.input_tokens'"));
}

TEST(JsonReaderTest, IdAndEnumAreChecked) {
  auto o = Obj(R"({"user_id": "bad id!", "mode": "loud", "ok": "u-1"})");
  JsonReader r(o);
  EXPECT_THAT(Message(r.Id("user_id").status()), HasSubstr("field 'user_id' must be 1-128"));
  EXPECT_EQ(*r.RequiredId("ok"), "u-1");
  EXPECT_EQ(Message(r.Enum("mode", {"off", "shadow", "enforce"}).status()),
            "field 'mode' must be one of: off, shadow, enforce");
}

TEST(JsonReaderTest, RejectsUnknownFields) {
  auto o = Obj(R"({"user_id": "u", "usr": "typo"})");
  JsonReader r(o);
  absl::Status s = r.RejectUnknownFields({"user_id", "agent"});
  EXPECT_EQ(Message(s), "unknown field 'usr'");
  EXPECT_TRUE(r.RejectUnknownFields({"user_id", "usr"}).ok());
}

TEST(JsonReaderTest, NonEmptyStringLimits) {
  auto o = Obj(R"({"a": "", "b": "abcdef"})");
  JsonReader r(o);
  EXPECT_EQ(Message(r.NonEmptyString("a").status()), "field 'a' must not be empty");
  EXPECT_EQ(Message(r.NonEmptyString("b", 3).status()), "field 'b' must be at most 3 bytes long");
}

}  // namespace
}  // namespace tollgate::server

namespace tollgate::server {
namespace {

TEST(SerializeJsonTest, WritesDoublesInPlainDecimal) {
  boost::json::value v = boost::json::parse(R"({"a":0.0075,"b":[250.0,0.0,-1.5],"c":"x\"y","d":7,"e":null})");
  EXPECT_EQ(SerializeJson(v), R"({"a":0.0075,"b":[250,0,-1.5],"c":"x\"y","d":7,"e":null})");
  EXPECT_EQ(SerializeJson(boost::json::value(1e-9)), "0.000000001");
  EXPECT_EQ(boost::json::parse(SerializeJson(boost::json::value(0.1))).as_double(), 0.1);
}

}  // namespace
}  // namespace tollgate::server

namespace tollgate::server {
namespace {

TEST(JsonWriterTest, WritesWhatSerializeJsonWritesForTheSameValue) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Key("id").String("lim_1")
      .Key("quote\"and\\slash\n").String("tab\there")
      .Key("n").Int(-9223372036854775807LL - 1)
      .Key("usd").Double(0.0075)
      .Key("inf").Double(std::numeric_limits<double>::infinity())
      .Key("ok").Bool(true)
      .Key("none").Null()
      .Key("empty").BeginArray().EndArray()
      .Key("list").BeginArray().Int(1).BeginObject().Key("a").Bool(false).EndObject().String("x").EndArray()
      .Key("raw").Value(boost::json::value{{"k", 250.0}})
      .EndObject();
  boost::json::object o;
  o["id"] = "lim_1";
  o["quote\"and\\slash\n"] = "tab\there";
  o["n"] = -9223372036854775807LL - 1;
  o["usd"] = 0.0075;
  o["inf"] = nullptr;
  o["ok"] = true;
  o["none"] = nullptr;
  o["empty"] = boost::json::array();
  o["list"] = boost::json::array{1, boost::json::object{{"a", false}}, "x"};
  o["raw"] = boost::json::object{{"k", 250.0}};
  EXPECT_EQ(out, SerializeJson(o));
  EXPECT_TRUE(ParseJson(out).ok());
}

}  // namespace
}  // namespace tollgate::server
