#include "providers/wire.h"

#include <boost/json/basic_parser_impl.hpp>

#include "absl/strings/str_cat.h"

#include "providers/anthropic/anthropic.h"
#include "providers/gemini/gemini.h"
#include "providers/openai/openai.h"
#include "providers/usage.h"
#include "providers/wire_internal.h"

namespace tollgate::providers {

namespace json = boost::json;

std::string_view ProviderOf(WireFormat format) {
  switch (format) {
    case WireFormat::kOpenAiChat:
    case WireFormat::kOpenAiResponses:
    case WireFormat::kOpenAiEmbeddings:
      return "openai";
    case WireFormat::kAnthropicMessages:
      return "anthropic";
    case WireFormat::kGeminiGenerate:
      return "gemini";
  }
  return "";
}

std::string_view ToString(WireFormat format) {
  switch (format) {
    case WireFormat::kOpenAiChat:
      return "openai_chat";
    case WireFormat::kOpenAiResponses:
      return "openai_responses";
    case WireFormat::kOpenAiEmbeddings:
      return "openai_embeddings";
    case WireFormat::kAnthropicMessages:
      return "anthropic_messages";
    case WireFormat::kGeminiGenerate:
      return "gemini_generate";
  }
  return "";
}

absl::StatusOr<ParsedCall> ParseRequest(WireFormat format, const json::object& body,
                                        std::string_view path_model, bool gemini_stream) {
  switch (format) {
    case WireFormat::kOpenAiChat:
      return openai::ParseChat(body);
    case WireFormat::kOpenAiResponses:
      return openai::ParseResponses(body);
    case WireFormat::kOpenAiEmbeddings:
      return openai::ParseEmbeddings(body);
    case WireFormat::kAnthropicMessages:
      return anthropic::ParseMessages(body);
    case WireFormat::kGeminiGenerate:
      return gemini::ParseGenerate(body, path_model, gemini_stream);
  }
  return absl::InvalidArgumentError("unknown wire format");
}

void ApplyRewrite(WireFormat format, json::object& body, const Rewrite& rewrite) {
  switch (format) {
    case WireFormat::kOpenAiChat:
      return openai::RewriteChat(body, rewrite);
    case WireFormat::kOpenAiResponses:
      return openai::RewriteResponses(body, rewrite);
    case WireFormat::kOpenAiEmbeddings:
      return openai::RewriteEmbeddings(body, rewrite);
    case WireFormat::kAnthropicMessages:
      return anthropic::RewriteMessages(body, rewrite);
    case WireFormat::kGeminiGenerate:
      return gemini::RewriteGenerate(body, rewrite);
  }
}

namespace {

// A boost::json::basic_parser handler that checks a whole document and builds only the
// value of one member of the top-level object (the last one, if the key repeats).
class MemberHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  // The member's value is built in `sp`, which must outlive the handler's use of it.
  MemberHandler(std::string_view wanted, json::storage_ptr sp)
      : wanted_(wanted), sp_(std::move(sp)) {}

  bool top_is_object() const { return top_is_object_; }
  // The member's value; nullptr when the object has no such member.
  const json::value* member() const { return found_ ? &member_ : nullptr; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    if (depth_ == 0) top_is_object_ = true;
    return Open();
  }
  bool on_object_end(std::size_t n, json::error_code&) {
    return Close([&] { st_.push_object(n); });
  }
  bool on_array_begin(json::error_code&) { return Open(); }
  bool on_array_end(std::size_t n, json::error_code&) {
    return Close([&] { st_.push_array(n); });
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (capturing()) {
      st_.push_chars(s);
    } else if (depth_ == 1) {
      key_.append(s.data(), s.size());
    }
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (capturing()) {
      st_.push_key(s);
    } else if (depth_ == 1) {
      key_.append(s.data(), s.size());
      key_matches_ = key_ == wanted_;
      key_.clear();
    }
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    BeginValue();
    if (capturing()) st_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    return Scalar([&] { st_.push_string(s); });
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    return Scalar([&] { st_.push_int64(i); });
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    return Scalar([&] { st_.push_uint64(u); });
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    return Scalar([&] { st_.push_double(d); });
  }
  bool on_bool(bool b, json::error_code&) {
    return Scalar([&] { st_.push_bool(b); });
  }
  bool on_null(json::error_code&) {
    return Scalar([&] { st_.push_null(); });
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  bool capturing() const { return capture_depth_ >= 0; }
  // A value starts: the wanted member's when it is a top-level value after its key.
  void BeginValue() {
    if (!capturing() && depth_ == 1 && key_matches_) {
      st_.reset(sp_);
      capture_depth_ = depth_;
    }
    key_matches_ = false;
  }
  // A value ended at depth_: the member's, when it started there.
  void EndValue() {
    if (depth_ != capture_depth_) return;
    member_ = st_.release();
    found_ = true;
    capture_depth_ = -1;
  }
  bool Open() {
    BeginValue();
    ++depth_;
    return true;
  }
  template <typename Push>
  bool Close(Push push) {
    --depth_;
    if (capturing()) {
      push();
      EndValue();
    }
    return true;
  }
  template <typename Push>
  bool Scalar(Push push) {
    BeginValue();
    if (capturing()) {
      push();
      EndValue();
    }
    return true;
  }

  const std::string_view wanted_;
  json::storage_ptr sp_;
  unsigned char stack_buffer_[512];  // value_stack's working space, before it grows
  json::value_stack st_{sp_, stack_buffer_, sizeof stack_buffer_};
  std::string key_;  // parts of a top-level key
  int depth_ = 0;    // containers open
  int capture_depth_ = -1;  // depth at which the member's value started; -1: not in it
  bool key_matches_ = false;  // the last top-level key was the wanted one
  bool top_is_object_ = false;
  bool found_ = false;
  json::value member_;
};

}  // namespace

absl::StatusOr<Usage> UsageFromResponse(WireFormat format, std::string_view body,
                                        int max_depth) {
  const bool gemini = format == WireFormat::kGeminiGenerate;
  json::parse_options options;
  options.max_depth = static_cast<std::size_t>(max_depth);
  // The usage object is small: built on the stack, not the heap.
  unsigned char buffer[2048];
  json::monotonic_resource memory(buffer, sizeof buffer);
  json::basic_parser<MemberHandler> parser(options, gemini ? "usageMetadata" : "usage",
                                           json::storage_ptr(&memory));
  json::error_code ec;
  const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (!ec && used < body.size()) ec = json::error::extra_data;  // a second value after it
  if (ec || !parser.done()) {
    return absl::InvalidArgumentError(
        absl::StrCat("response: malformed JSON at byte ", used, ": ", ec.message()));
  }
  if (!parser.handler().top_is_object())
    return absl::InvalidArgumentError("response: must be an object");
  const json::value* usage = parser.handler().member();
  if (usage == nullptr || usage->is_null())  // a null member counts as none
    return absl::NotFoundError(gemini ? "response has no usageMetadata" : "response has no usage");
  return NormalizeUsage(*usage, ProviderOf(format));
}

std::string OutputText(WireFormat format, const json::value& body) {
  switch (format) {
    case WireFormat::kOpenAiChat:
      return openai::ChatOutputText(body);
    case WireFormat::kOpenAiResponses:
      return openai::ResponsesOutputText(body);
    case WireFormat::kOpenAiEmbeddings:
      return "";
    case WireFormat::kAnthropicMessages:
      return anthropic::OutputText(body);
    case WireFormat::kGeminiGenerate:
      return gemini::OutputText(body);
  }
  return "";
}

std::string ErrorBody(WireFormat format, unsigned http_status, std::string_view code,
                      std::string_view message) {
  switch (format) {
    case WireFormat::kAnthropicMessages:
      return anthropic::ErrorBody(http_status, message);
    case WireFormat::kGeminiGenerate:
      return gemini::ErrorBody(http_status, code, message);
    default:
      return openai::ErrorBody(http_status, code, message);
  }
}

}  // namespace tollgate::providers
