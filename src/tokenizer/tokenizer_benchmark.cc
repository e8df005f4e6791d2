// Throughput of tollgate's tokenizer on files, one thread; used by bench/tokenizer/run.sh.
//   tokenizer_benchmark corpus ENCODING REPEATS FILE...
//     -> "MB/s(wall) TOKENS MB/s(thread CPU) SECONDS(wall)", best of REPEATS passes over
//        all files after one untimed warm-up pass (none when REPEATS is 1). REPEATS "Ns"
//        means as many passes as fit in N seconds (at least 3).
//   tokenizer_benchmark split ENCODING REPEATS FILE...  -> hand-written vs PCRE2 splitter
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "tokenizer/pcre2_splitter.h"
#include "tokenizer/pretokenize.h"
#include "tollgate/tokenizer.h"

using namespace tollgate::tokenizer;

namespace {

double CpuNow() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string ReadAll(const char* path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s corpus|split|word ENCODING ...\n", argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  auto id = ParseEncodingId(argv[2]);
  if (!id) return 2;
  const Encoding& enc = Encoding::Get(*id);
  int repeats = std::atoi(argv[3]);
  double min_seconds = 0;
  if (std::string_view(argv[3]).ends_with("s")) {
    min_seconds = std::atof(argv[3]);
    repeats = 3;
  }
  std::vector<std::string> texts;
  size_t total = 0;
  for (int i = 4; i < argc; ++i) {
    texts.push_back(ReadAll(argv[i]));
    total += texts.back().size();
  }
  if (mode == "corpus") {
    size_t tokens = 0;
    if (repeats > 1) {
      for (auto& t : texts) tokens += enc.Count(t);  // warm-up
    }
    double best = 1e9, best_cpu = 1e9;
    const double start = Now();
    for (int r = 0; r < repeats || Now() - start < min_seconds; ++r) {
      double t0 = Now(), c0 = CpuNow();
      size_t n = 0;
      for (auto& t : texts) n += enc.Count(t);
      best = std::min(best, Now() - t0);
      best_cpu = std::min(best_cpu, CpuNow() - c0);
      tokens = n;
    }
    // MB/s by wall time, tokens, MB/s by thread CPU time.
    std::printf("%.2f %zu %.2f %.6f\n", total / best / 1e6, tokens, total / best_cpu / 1e6, best);
    return 0;
  }
  if (mode == "split") {
    auto pcre = Pcre2Splitter::Create(*id);
    if (!pcre.ok()) {
      std::fprintf(stderr, "%s\n", pcre.status().ToString().c_str());
      return 1;
    }
    auto next = *id == EncodingId::kCl100kBase ? NextPieceCl100k : NextPieceO200k;
    double best_hand = 1e9, best_pcre = 1e9;
    size_t pieces_hand = 0, pieces_pcre = 0;
    for (int r = 0; r < repeats; ++r) {
      double t0 = Now();
      size_t k = 0;
      for (auto& t : texts) {
        auto* s = reinterpret_cast<const uint8_t*>(t.data());
        for (size_t pos = 0; pos < t.size(); pos = next(s, pos, t.size())) ++k;
      }
      best_hand = std::min(best_hand, Now() - t0);
      pieces_hand = k;
      t0 = Now();
      k = 0;
      for (auto& t : texts) (*pcre)->ForEach(t, [&](size_t, size_t) { ++k; });
      best_pcre = std::min(best_pcre, Now() - t0);
      pieces_pcre = k;
    }
    std::printf("hand %.2f MB/s %zu pieces; pcre2-jit %.2f MB/s %zu pieces\n",
                total / best_hand / 1e6, pieces_hand, total / best_pcre / 1e6, pieces_pcre);
    return 0;
  }
  return 2;
}
