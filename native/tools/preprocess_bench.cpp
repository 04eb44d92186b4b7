// Preprocessor (optimized) against PreprocessorRef (the scalar reference) on the frames the
// classifier sees: per case, rounds of a batch of calls of each, interleaved (the order alternating
// per round), after a warm-up; the median per-call time of each over the rounds and their ratio.
// Each case first checks that both give the same bytes. Built and run by native/tools/preprocess_bench.sh.
//   preprocess_bench [ROUNDS] [JSON] [HOST]   (HOST: a line naming the machine, copied into the JSON)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "bluefire/preprocess.h"
#include "ref/preprocess_ref.h"

using bluefire::PixelLayout;
using Clock = std::chrono::steady_clock;

namespace {

struct Case {
  const char* name;
  int H, W, n;
  PixelLayout layout;
  int h, w, channels;
  bool gray;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Microseconds per call of `calls` calls.
template <typename P>
double time_batch(P& p, const Case& c, const std::vector<uint8_t>& px, std::vector<float>& out, int calls) {
  const auto t0 = Clock::now();
  for (int i = 0; i < calls; ++i) p.run(px.data(), c.H, c.W, out.data(), c.layout);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / calls;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 201;
  const char* json = argc > 2 ? argv[2] : nullptr;
  const char* host = argc > 3 ? argv[3] : "";
  const Case cases[] = {
      {"28x28 GRAY -> 64x64 gray (1 plane)", 28, 28, 1, PixelLayout::GRAY, 64, 64, 1, true},
      {"28x28 BGR -> 64x64 gray (1 plane)", 28, 28, 3, PixelLayout::BGR, 64, 64, 1, true},
      {"64x64 GRAY -> 64x64 gray (identity)", 64, 64, 1, PixelLayout::GRAY, 64, 64, 1, true},
      {"128x128 GRAY -> 64x64 gray (exact 2x)", 128, 128, 1, PixelLayout::GRAY, 64, 64, 1, true},
      {"480x640 RGB -> 64x64 gray (1 plane)", 480, 640, 3, PixelLayout::RGB, 64, 64, 1, true},
      {"480x640 RGB -> 64x64 RGB", 480, 640, 3, PixelLayout::RGB, 64, 64, 3, false},
      {"480x640 RGB -> 224x224 RGB", 480, 640, 3, PixelLayout::RGB, 224, 224, 3, false},
  };
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::FILE* js = json ? std::fopen(json, "w") : nullptr;
  if (json && !js) {
    std::perror(json);
    return 2;
  }
  if (js) std::fprintf(js, "{\"host\": \"%s\", \"rounds\": %d, \"cases\": [", host, rounds);
  std::printf("%-40s %12s %12s %8s\n", "case", "ref us", "fast us", "x faster");
  bool first = true;
  for (const Case& c : cases) {
    bluefire::PreprocessSpec s;
    s.height = c.h, s.width = c.w, s.channels = c.channels, s.gray = c.gray;
    s.mean[0] = 0.2858f, s.std[0] = 0.3388f;
    bluefire::PreprocessorRef ref(s);
    bluefire::Preprocessor fast(s);
    std::vector<uint8_t> px(size_t(c.H) * c.W * c.n);
    for (auto& v : px) v = uint8_t(byte(rng));
    const size_t count = size_t(c.channels) * c.h * c.w;
    std::vector<float> a(count), b(count);
    ref.run(px.data(), c.H, c.W, a.data(), c.layout);
    fast.run(px.data(), c.H, c.W, b.data(), c.layout);
    if (std::memcmp(a.data(), b.data(), count * sizeof(float)) != 0) {
      std::fprintf(stderr, "%s: the optimized output differs from the reference\n", c.name);
      return 1;
    }
    // Batches of about 200 us of the reference, so the clock's resolution does not matter.
    const double once = time_batch(ref, c, px, a, 20);
    const int calls = std::max(1, int(200.0 / std::max(once, 1e-3)));
    for (int i = 0; i < 5; ++i) time_batch(ref, c, px, a, calls), time_batch(fast, c, px, b, calls);  // warm-up
    std::vector<double> tr, tf;
    for (int r = 0; r < rounds; ++r) {
      if (r % 2) {
        tr.push_back(time_batch(ref, c, px, a, calls));
        tf.push_back(time_batch(fast, c, px, b, calls));
      } else {
        tf.push_back(time_batch(fast, c, px, b, calls));
        tr.push_back(time_batch(ref, c, px, a, calls));
      }
    }
    const double mr = median(tr), mf = median(tf);
    std::printf("%-40s %12.2f %12.2f %8.2f\n", c.name, mr, mf, mr / mf);
    if (js)
      std::fprintf(
          js,
          "%s\n  {\"case\": \"%s\", \"calls_per_batch\": %d, \"ref_us\": %.4f, \"fast_us\": %.4f, \"speedup\": %.3f}",
          first ? "" : ",", c.name, calls, mr, mf, mr / mf);
    first = false;
  }
  if (js) {
    std::fprintf(js, "\n]}\n");
    std::fclose(js);
  }
  return 0;
}
