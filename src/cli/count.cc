// tollgate count [--model M | --encoding E] [--ids] [--allow-special] [FILE...]
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "tollgate/tokenizer.h"

namespace {

namespace tk = tollgate::tokenizer;

struct CountOptions {
  std::string model;
  std::string encoding;
  bool ids = false;
  bool allow_special = false;
  std::vector<std::string> files;
};

bool ReadInput(const std::string& path, std::string* out) {
  if (path.empty()) {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    *out = std::move(ss).str();
    return !std::cin.bad();
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = std::move(ss).str();
  return !f.bad();
}

int RunCount(const CountOptions& o) {
  std::optional<tk::EncodingId> encoding;
  std::optional<tk::ModelInfo> estimate;
  if (!o.encoding.empty()) {
    encoding = tk::ParseEncodingId(o.encoding);
    if (!encoding) {
      std::cerr << "tollgate count: unknown encoding " << o.encoding
                << " (cl100k_base, o200k_base)\n";
      return 2;
    }
  } else if (!o.model.empty()) {
    auto info = tk::LookupModel(o.model);
    if (!info.ok()) {
      std::cerr << "tollgate count: " << info.status().message() << "\n";
      return 2;
    }
    if (info->encoding) {
      encoding = info->encoding;
    } else {
      estimate = *info;
    }
  } else {
    encoding = tk::EncodingId::kO200kBase;
  }
  if (estimate && o.ids) {
    std::cerr << "tollgate count: " << o.model << " is counted by estimate; it has no token ids\n";
    return 2;
  }
  std::vector<std::string> inputs = o.files;
  if (inputs.empty()) inputs.push_back("");  // stdin
  tk::EncodeOptions eo;
  eo.allow_special = o.allow_special;
  int rc = 0;
  std::string text;
  std::vector<uint32_t> ids;
  std::string line;
  for (const auto& path : inputs) {
    if (!ReadInput(path, &text)) {
      std::cerr << "tollgate count: cannot read " << path << "\n";
      rc = 1;
      continue;
    }
    if (o.ids) {
      ids.clear();
      tk::Encoding::Get(*encoding).Encode(text, ids, eo);
      line.clear();
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) line += ' ';
        line += std::to_string(ids[i]);
      }
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), stdout);
      continue;
    }
    int64_t n;
    if (encoding) {
      n = static_cast<int64_t>(tk::Encoding::Get(*encoding).Count(text, eo));
    } else {
      n = tk::CountText(o.model, text)->tokens;
    }
    if (inputs.size() == 1) {
      std::printf("%lld\n", static_cast<long long>(n));
    } else {
      std::printf("%lld %s\n", static_cast<long long>(n), path.c_str());
    }
  }
  std::fflush(stdout);
  return rc;
}

}  // namespace

void RegisterCountCommand(CLI::App& app) {
  auto opts = std::make_shared<CountOptions>();
  CLI::App* cmd =
      app.add_subcommand("count", "count the tokens of files (or stdin) as OpenAI's tokenizers do");
  auto* model = cmd->add_option("--model,-m", opts->model,
                                "model name; picks the encoding (or an estimate for "
                                "Anthropic and Gemini models)");
  auto* enc =
      cmd->add_option("--encoding,-e", opts->encoding, "cl100k_base or o200k_base (default)");
  model->excludes(enc);
  cmd->add_flag("--ids", opts->ids, "print token ids, space-separated, one line per input");
  cmd->add_flag("--allow-special", opts->allow_special,
                "encode special-token text such as <|endoftext|> as the special token");
  cmd->add_option("FILE", opts->files, "files to count; stdin when none");
  cmd->callback([opts] {
    int rc = RunCount(*opts);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}
