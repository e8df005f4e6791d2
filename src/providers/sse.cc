#include "providers/sse.h"

#include "absl/strings/str_cat.h"

namespace tollgate::providers {

SseParser::SseParser(size_t max_event_bytes) : max_event_bytes_(max_event_bytes) {}

std::string_view SseParser::Pending() const {
  return std::string_view(buffer_).substr(event_start_);
}

absl::Status SseParser::Feed(std::string_view bytes, std::vector<SseEvent>* out) {
  if (!status_.ok()) return status_;
  // The events of the last call are gone: drop their bytes and their joined data.
  joined_.clear();
  buffer_.erase(0, event_start_);
  line_start_ -= event_start_;
  scan_ -= event_start_;
  event_start_ = 0;
  buffer_.append(bytes);

  while (scan_ < buffer_.size()) {
    const size_t eol = buffer_.find_first_of("\r\n", scan_);
    if (eol == std::string::npos) {
      scan_ = buffer_.size();
      break;
    }
    size_t next = eol + 1;
    if (buffer_[eol] == '\r') {
      if (next == buffer_.size()) {  // "\r" or "\r\n": the next byte tells
        scan_ = eol;
        break;
      }
      if (buffer_[next] == '\n') ++next;
    }
    if (eol == line_start_) {
      Dispatch(next, out);
      if (!status_.ok()) return status_;
    } else {
      Line(line_start_, eol);
    }
    line_start_ = scan_ = next;
  }
  if (buffer_.size() - event_start_ > max_event_bytes_) {
    status_ = absl::ResourceExhaustedError(
        absl::StrCat("server-sent event larger than ", max_event_bytes_, " bytes"));
  }
  return status_;
}

void SseParser::Line(size_t begin, size_t end) {
  std::string_view line(buffer_.data() + begin, end - begin);
  if (line.front() == ':') return;  // a comment
  const size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  size_t value = end;
  if (colon != std::string_view::npos) {
    value = begin + colon + 1;
    if (value < end && buffer_[value] == ' ') ++value;
  }
  Span span{value - event_start_, end - value};
  if (field == "event") {
    event_ = span;
  } else if (field == "data") {
    data_.push_back(span);
  }
}

void SseParser::Dispatch(size_t end, std::vector<SseEvent>* out) {
  if (end - event_start_ > max_event_bytes_) {
    status_ = absl::ResourceExhaustedError(
        absl::StrCat("server-sent event larger than ", max_event_bytes_, " bytes"));
    return;
  }
  const char* base = buffer_.data() + event_start_;
  SseEvent e;
  e.raw = std::string_view(base, end - event_start_);
  if (event_) e.event = std::string_view(base + event_->begin, event_->size);
  if (data_.size() == 1) {
    e.data = std::string_view(base + data_[0].begin, data_[0].size);
  } else if (data_.size() > 1) {
    std::string& joined = joined_.emplace_back();
    for (size_t i = 0; i < data_.size(); ++i) {
      if (i > 0) joined.push_back('\n');
      joined.append(base + data_[i].begin, data_[i].size);
    }
    e.data = joined;
  }
  out->push_back(e);
  event_start_ = end;
  event_.reset();
  data_.clear();
}

}  // namespace tollgate::providers
