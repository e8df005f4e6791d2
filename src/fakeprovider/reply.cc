#include "fakeprovider/reply.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace tollgate::fakeprovider {
namespace {

constexpr std::string_view kWords[] = {
    "lorem",  "ipsum",   "dolor",  "sit",     "amet",         "consectetur", "adipiscing",
    "elit",   "sed",     "do",     "eiusmod", "tempor",       "incididunt",  "ut",
    "labore", "et",      "dolore", "magna",   "aliqua",       "enim",        "ad",
    "minim",  "veniam",  "quis",   "nostrud", "exercitation", "ullamco",     "laboris",
    "nisi",   "aliquip", "ex",     "ea",      "commodo",      "consequat"};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

}  // namespace

std::string ReplyText(int64_t words) {
  std::string out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(words, 0)) * 7);
  for (int64_t i = 0; i < words; ++i) {
    if (i > 0) out.push_back(' ');
    out.append(kWords[static_cast<size_t>(i) % kWordCount]);
  }
  return out;
}

Reply MakeReply(const RequestInfo& request, const Directives& d, const ReplyDefaults& defaults,
                std::string id, int64_t created) {
  Reply r;
  r.model = request.model;
  r.id = std::move(id);
  r.created = created;

  Usage& u = r.usage;
  u.cached = d.cached.value_or(0);
  u.cache_write = d.cache_write.value_or(0);
  u.reasoning = d.reasoning.value_or(0);
  u.input = d.input.value_or(defaults.input_tokens.value_or(EstimateTokens(request.text_bytes)));
  u.input = std::max(u.input, u.cached + u.cache_write);
  u.output = std::max(d.output.value_or(defaults.output_tokens), u.reasoning);
  // The request's max output tokens cut the default reply, as a real model stops there;
  // an explicit [fake output=N] is what the test wants reported, so it is kept.
  if (!d.output && request.max_output_tokens && u.output > *request.max_output_tokens) {
    u.output = *request.max_output_tokens;
    u.reasoning = std::min(u.reasoning, u.output);
    r.truncated = true;
  }
  r.report_usage = !d.no_usage;

  int64_t words = std::min(u.visible(), kMaxReplyWords);
  r.text = ReplyText(words);
  // Split after every kWordsPerChunk-th word; the space before a word starts its chunk.
  size_t start = 0;
  int64_t seen = 0;
  for (size_t i = 0; i < r.text.size(); ++i) {
    if (r.text[i] == ' ' && ++seen % kWordsPerChunk == 0) {
      r.chunks.push_back(r.text.substr(start, i - start));
      start = i;
    }
  }
  if (start < r.text.size()) r.chunks.push_back(r.text.substr(start));

  r.status = d.status;
  r.stall = d.stall;
  r.stall_after = d.stall_after;
  r.delay_ms = d.delay_ms.value_or(defaults.latency_ms);
  r.chunk_delay_ms = d.chunk_delay_ms.value_or(defaults.chunk_delay_ms);
  return r;
}

}  // namespace tollgate::fakeprovider
