#include "server/http/response_writer.h"

namespace tollgate::server {

boost::asio::awaitable<bool> BufferResponseWriter::DoWriteHeader(boost::beast::http::status s,
                                                                 std::string_view type,
                                                                 HeaderList h) {
  header_written_ = true;
  status = s;
  content_type = std::string(type);
  headers = std::move(h);
  co_return !gone_;
}

boost::asio::awaitable<bool> BufferResponseWriter::WriteChunk(std::string_view data) {
  if (gone_) co_return false;
  if (fail_after_chunks >= 0 && static_cast<int>(chunks.size()) >= fail_after_chunks) {
    Disconnect();
    co_return false;
  }
  if (!data.empty()) chunks.emplace_back(data);
  co_return true;
}

boost::asio::awaitable<bool> BufferResponseWriter::Finish() {
  if (gone_) co_return false;
  finished = true;
  co_return true;
}

void BufferResponseWriter::OnClientGone(std::function<void()> callback) {
  on_gone_ = std::move(callback);
  if (gone_ && on_gone_) on_gone_();
}

void BufferResponseWriter::Disconnect() {
  if (gone_) return;
  gone_ = true;
  if (on_gone_) on_gone_();
}

std::string BufferResponseWriter::Body() const {
  std::string body;
  for (const std::string& c : chunks) body += c;
  return body;
}

}  // namespace tollgate::server
