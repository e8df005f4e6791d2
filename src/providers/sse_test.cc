#include "providers/sse.h"

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tollgate::providers {
namespace {

// An event copied out of the parser (its views die at the next Feed).
struct Event {
  std::string event, data, raw;
  bool operator==(const Event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{event=" << e.event << " data=" << e.data << " raw=" << e.raw << "}";
}

struct Result {
  std::vector<Event> events;
  std::string pending;
};

// Feeds `chunks` in order and collects everything.
Result FeedAll(const std::vector<std::string_view>& chunks, size_t max_event_bytes = 1 << 20) {
  SseParser parser(max_event_bytes);
  Result r;
  std::vector<SseEvent> out;
  for (std::string_view chunk : chunks) {
    out.clear();
    absl::Status s = parser.Feed(chunk, &out);
    EXPECT_TRUE(s.ok()) << s;
    for (const SseEvent& e : out)
      r.events.push_back({std::string(e.event), std::string(e.data), std::string(e.raw)});
  }
  r.pending = std::string(parser.Pending());
  return r;
}

std::string Concat(const Result& r) {
  std::string all;
  for (const Event& e : r.events) all += e.raw;
  return all + r.pending;
}

// An Anthropic stream, abridged: named events, a ping, a comment.
constexpr std::string_view kStream =
    "event: message_start\n"
    "data: "
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":25,"
    "\"output_tokens\":1}}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    ": keep-alive\n"
    "\n"
    "event: content_block_delta\n"
    ": a comment inside an event\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\n"
    "data: \"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

std::vector<Event> Expected() {
  return {
      {"message_start",
       "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":25,"
       "\"output_tokens\":1}}}",
       "event: message_start\ndata: "
       "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":25,"
       "\"output_tokens\":1}}}\n\n"},
      {"ping", "{\"type\": \"ping\"}", "event: ping\ndata: {\"type\": \"ping\"}\n\n"},
      {"", "", ": keep-alive\n\n"},
      {"content_block_delta",
       "{\"type\":\"content_block_delta\",\"index\":0,\n\"delta\":{\"type\":\"text_delta\","
       "\"text\":\"Hello\"}}",
       "event: content_block_delta\n: a comment inside an event\ndata: "
       "{\"type\":\"content_block_delta\",\"index\":0,\ndata: "
       "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"},
      {"message_stop", "{\"type\":\"message_stop\"}",
       "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"},
  };
}

std::string WithLineEnds(std::string_view text, std::string_view eol) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += eol;
    } else {
      out += c;
    }
  }
  return out;
}

TEST(SseParserTest, SplitsAWholeStreamIntoEvents) {
  Result r = FeedAll({kStream});
  EXPECT_EQ(r.events, Expected());
  EXPECT_EQ(r.pending, "");
}

TEST(SseParserTest, EverySplitInTwoGivesTheSameEvents) {
  for (size_t i = 0; i <= kStream.size(); ++i) {
    Result r = FeedAll({kStream.substr(0, i), kStream.substr(i)});
    ASSERT_EQ(r.events, Expected()) << "split at " << i;
  }
}

TEST(SseParserTest, OneByteAtATimeGivesTheSameEvents) {
  for (std::string_view eol : {"\n", "\r\n", "\r"}) {
    std::string stream = WithLineEnds(kStream, eol);
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < stream.size(); ++i)
      bytes.push_back(std::string_view(stream).substr(i, 1));
    Result r = FeedAll(bytes);
    Result whole = FeedAll({stream});
    EXPECT_EQ(r.events, whole.events);
    EXPECT_EQ(r.pending, whole.pending);
    EXPECT_EQ(Concat(r), stream);
    // A lone "\r" ends a line, but the parser waits for the next byte to tell it from
    // "\r\n": with "\r" line ends the last event stays pending until more bytes come.
    const size_t complete = eol == "\r" ? Expected().size() - 1 : Expected().size();
    ASSERT_EQ(r.events.size(), complete) << "eol size " << eol.size();
    for (size_t i = 0; i < complete; ++i) {
      EXPECT_EQ(r.events[i].event, Expected()[i].event);
      EXPECT_EQ(r.events[i].data, Expected()[i].data);
      EXPECT_EQ(r.events[i].raw, WithLineEnds(Expected()[i].raw, eol));
    }
    EXPECT_EQ(r.pending, eol == "\r" ? WithLineEnds(Expected().back().raw, eol) : "");
  }
}

TEST(SseParserTest, RandomSplitsReproduceTheStreamByteForByte) {
  std::string stream = WithLineEnds(kStream, "\r\n") + std::string(kStream);
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string_view> chunks;
    size_t at = 0;
    while (at < stream.size()) {
      size_t n = std::uniform_int_distribution<size_t>(0, 40)(rng);
      chunks.push_back(std::string_view(stream).substr(at, n));
      at += n;
    }
    Result r = FeedAll(chunks);
    ASSERT_EQ(r.events.size(), 2 * Expected().size()) << "round " << round;
    EXPECT_EQ(Concat(r), stream);
    EXPECT_EQ(r.pending, "");
  }
}

TEST(SseParserTest, CarriageReturnThenLineFeedInTheNextChunkIsOneLineEnd) {
  Result r = FeedAll({"data: a\r\n\r", "\ndata: b\r\n\r\n"});
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].raw, "data: a\r\n\r\n");
  EXPECT_EQ(r.events[1].data, "b");
}

TEST(SseParserTest, FieldSyntax) {
  Result r =
      FeedAll({"data:no-space\n\ndata\n\ndata:  two spaces\nid: 7\nretry: 10\n\n"
               "event: a\nevent: b\ndata: x\n\n\n"});
  ASSERT_EQ(r.events.size(), 5u);
  EXPECT_EQ(r.events[0].data, "no-space");
  EXPECT_EQ(r.events[1].data, "");  // a bare "data" line: an empty value
  EXPECT_EQ(r.events[2].data, " two spaces");
  EXPECT_EQ(r.events[3].event, "b");
  EXPECT_EQ(r.events[4].raw, "\n");  // a stray blank line is forwarded too
}

TEST(SseParserTest, AFinalEventWithoutBlankLineStaysPending) {
  Result r = FeedAll({"data: [DONE]\n\n", "data: {\"partial\":", "true}\n"});
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "[DONE]");
  EXPECT_EQ(r.pending, "data: {\"partial\":true}\n");
}

TEST(SseParserTest, OversizedEventIsResourceExhaustedAndKeepsEveryByte) {
  SseParser parser(32);
  std::vector<SseEvent> out;
  std::string big = "data: " + std::string(40, 'x') + "\n\n";
  std::string stream = "data: small\n\n" + big + "data: after\n\n";
  absl::Status s = parser.Feed(stream, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "small");
  EXPECT_EQ(std::string(out[0].raw) + std::string(parser.Pending()), stream);
  out.clear();
  EXPECT_FALSE(parser.Feed("data: more\n\n", &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(SseParserTest, OversizedUnfinishedEventIsDetectedBeforeItEnds) {
  SseParser parser(32);
  std::vector<SseEvent> out;
  EXPECT_TRUE(parser.Feed("data: 0123456789", &out).ok());  // 16 bytes
  EXPECT_TRUE(parser.Feed("data: 0123456789", &out).ok());  // 32 bytes
  EXPECT_EQ(parser.Feed("data: 0123456789", &out).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(parser.Pending().size(), 48u);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace tollgate::providers
