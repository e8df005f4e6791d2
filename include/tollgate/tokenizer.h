#pragma once

// Token counting: exact OpenAI BPE encodings (cl100k_base, o200k_base: the same ids as
// tiktoken), the model -> encoding table, OpenAI's chat-message overhead, and documented
// estimates for Anthropic and Gemini models. See docs/tokenizer.md.
//
// Text is UTF-8. Invalid UTF-8 never fails and never crashes: each maximal invalid
// subsequence (WHATWG "maximal subpart" rule, as TextDecoder and Python's
// errors="replace" do) is read as U+FFFD before encoding.
//
// Thread safety: every function here may be called concurrently. Encoding objects are
// immutable once built and shared.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace boost::json {
class object;
}  // namespace boost::json

namespace tollgate::tokenizer {

enum class EncodingId { kCl100kBase, kO200kBase };

std::string_view ToString(EncodingId id);  // "cl100k_base" | "o200k_base"
std::optional<EncodingId> ParseEncodingId(std::string_view name);

struct EncodeOptions {
  // false (the default): text that looks like a special token ("<|endoftext|>") is
  // encoded as plain text, like tiktoken's encode(text, allowed_special=set(),
  // disallowed_special=()). true: such text becomes the special token's id, like
  // allowed_special="all".
  bool allow_special = false;
};

class Vocab;  // private: src/tokenizer/vocab.h

// One BPE encoding. Obtain with Encoding::Get; never destroyed.
class Encoding {
 public:
  // The encoding's rank data is embedded in the binary and parsed on first use (a few
  // milliseconds); later calls return the same object.
  static const Encoding& Get(EncodingId id);

  EncodingId id() const { return id_; }
  std::string_view name() const { return ToString(id_); }

  // Appends the token ids of `text` to `out`.
  void Encode(std::string_view text, std::vector<uint32_t>& out,
              const EncodeOptions& options = {}) const;
  std::vector<uint32_t> Encode(std::string_view text, const EncodeOptions& options = {}) const;

  // The number of ids Encode would give, without materialising them.
  size_t Count(std::string_view text, const EncodeOptions& options = {}) const;

  // The bytes of the tokens (special tokens as their text). InvalidArgument on an id
  // outside the vocabulary. The result need not be valid UTF-8 for arbitrary id lists.
  absl::StatusOr<std::string> Decode(std::span<const uint32_t> ids) const;

  // Ordinary tokens are 0 .. num_ordinary_tokens()-1; special tokens come after.
  uint32_t num_ordinary_tokens() const;
  std::optional<uint32_t> SpecialTokenId(std::string_view text) const;

  ~Encoding();
  Encoding(const Encoding&) = delete;
  Encoding& operator=(const Encoding&) = delete;

  struct Impl;  // private: defined in src/tokenizer

 private:
  friend const Vocab& GetVocab(EncodingId id);
  Encoding(EncodingId id, Impl* impl) : id_(id), impl_(impl) {}
  EncodingId id_;
  Impl* impl_;
};

// Counting for a model name.

enum class Provider { kOpenAI, kAnthropic, kGemini };
std::string_view ToString(Provider p);  // "openai" | "anthropic" | "gemini"

struct ModelInfo {
  Provider provider = Provider::kOpenAI;
  // The exact encoding for OpenAI models; nullopt for models counted by estimate.
  std::optional<EncodingId> encoding;
  bool estimated() const { return !encoding.has_value(); }
};

// Maps a model name to its encoding: gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4 and
// chatgpt-4o -> o200k_base; gpt-4, gpt-3.5, text-embedding-3 and ada-002 -> cl100k_base;
// other OpenAI names by prefix; claude-* -> Anthropic estimate; gemini-* -> Gemini
// estimate. Accepts "ft:" fine-tune names and "openai/", "anthropic/", "google/" prefixes.
// NotFound for names it does not recognise.
absl::StatusOr<ModelInfo> LookupModel(std::string_view model);

struct TokenCount {
  int64_t tokens = 0;
  // "cl100k_base" | "o200k_base" for exact counts; "anthropic-estimate" |
  // "gemini-estimate" for estimates.
  std::string_view encoding;
  bool estimated = false;
};

// Tokens in a plain text for `model`. NotFound for an unknown model.
absl::StatusOr<TokenCount> CountText(std::string_view model, std::string_view text);

struct ChatMessage {
  std::string role;
  std::string content;  // text parts concatenated
  std::optional<std::string> name;
};

struct ToolProperty {
  std::string name;
  std::string type;
  std::string description;
  std::vector<std::string> enum_values;
};

struct ToolFunction {
  std::string name;
  std::string description;
  std::vector<ToolProperty> properties;
};

struct ChatRequest {
  std::vector<ChatMessage> messages;
  std::vector<ToolFunction> tools;
};

// Parses the chat-shaped fields of an OpenAI Chat Completions body ("messages",
// "tools" or legacy "functions"; other fields are ignored). Message content may be a
// string or an array of parts whose "text" fields are concatenated. Tools of another
// type than "function" (custom, built-in) have no function and are left out.
// InvalidArgument naming the field on bad shapes.
absl::StatusOr<ChatRequest> ParseChatRequest(std::string_view json);
// The same for a body that is already parsed (no second parse on the request path).
absl::StatusOr<ChatRequest> ParseChatRequest(const boost::json::object& body);

// Prompt tokens of a chat request, following OpenAI's published method (the
// openai-cookbook "How to count tokens with tiktoken"): 3 tokens per message (4 for
// gpt-3.5-turbo-0301), +1 per name (-1 for 0301), the tokens of every field value, 3
// for reply priming, plus the tool-definition overhead. Estimated for non-OpenAI models.
absl::StatusOr<TokenCount> CountChat(std::string_view model, const ChatRequest& request);

}  // namespace tollgate::tokenizer
