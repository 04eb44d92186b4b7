// Preprocessor (the optimized preprocessing) against PreprocessorRef, bit for bit: every layout,
// gray and colour models (one and three planes, both channel orders), identity, exact 2x, up- and
// downscales of odd sizes, 1-wide and 1-high images, the frames the classifier sees; one Preprocessor
// reused across input sizes (its resize tables are kept per size). And the vertical pass alone,
// exhaustively over its value range.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bluefire/preprocess.h"
#include "preprocess_common.h"
#include "ref/preprocess_ref.h"
#include "test.h"

using namespace bluefire;

namespace {

const PixelLayout kLayouts[] = {PixelLayout::RGB, PixelLayout::BGR, PixelLayout::GRAY, PixelLayout::RGBA,
                                PixelLayout::BGRA};
const char* const kLayoutNames[] = {"RGB", "BGR", "GRAY", "RGBA", "BGRA"};
int pixel_bytes(PixelLayout l) {
  return l == PixelLayout::GRAY ? 1 : l == PixelLayout::RGBA || l == PixelLayout::BGRA ? 4 : 3;
}

struct Contract {
  const char* name;
  bool gray, bgr;
  int channels;
};
const Contract kContracts[] = {{"rgb/RGB", false, false, 3},
                               {"rgb/BGR", false, true, 3},
                               {"gray/RGB 3 planes", true, false, 3},
                               {"gray/BGR 3 planes", true, true, 3},
                               {"gray 1 plane", true, false, 1}};

PreprocessSpec spec_of(const Contract& c, int h, int w) {
  PreprocessSpec s;
  s.height = h, s.width = w, s.gray = c.gray, s.bgr = c.bgr, s.channels = c.channels;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  for (int i = 0; i < 3; ++i) s.mean[i] = mean[i], s.std[i] = std[i];
  return s;
}

// Random bytes, or (pattern 1) only 0 and 255: the largest steps, where the resize's rounding and
// clamping are at their limits.
std::vector<uint8_t> frame(std::mt19937& rng, int H, int W, int n, int pattern) {
  std::vector<uint8_t> px(size_t(H) * W * n);
  std::uniform_int_distribution<int> byte(0, 255), bit(0, 1);
  for (auto& v : px) v = uint8_t(pattern == 1 ? 255 * bit(rng) : byte(rng));
  return px;
}

// Runs both on one frame; the fast output starts as NaN so that a value it never writes shows.
void compare(PreprocessorRef& ref, Preprocessor& fast, const std::vector<uint8_t>& px, int H, int W, PixelLayout layout,
             const std::string& what) {
  const PreprocessSpec& s = fast.spec();
  const size_t count = size_t(s.channels) * s.height * s.width;
  std::vector<float> want(count), got(count, std::nanf(""));
  ref.run(px.data(), H, W, want.data(), layout);
  fast.run(px.data(), H, W, got.data(), layout);
  for (size_t i = 0; i < count; ++i) {
    uint32_t a, b;
    std::memcpy(&a, &want[i], 4), std::memcpy(&b, &got[i], 4);
    if (a != b) {
      const size_t plane = size_t(s.height) * s.width;
      CHECK(false, "%s: index %zu (plane %zu, y %zu, x %zu): reference %.9g, optimized %.9g", what.c_str(), i,
            i / plane, i % plane / size_t(s.width), i % size_t(s.width), double(want[i]), double(got[i]));
      return;  // one message per case
    }
  }
}

std::string shape(int H, int W, int h, int w) {
  return std::to_string(H) + "x" + std::to_string(W) + " -> " + std::to_string(h) + "x" + std::to_string(w);
}

}  // namespace

TEST(preprocess_matches_reference_on_every_path) {
  std::mt19937 rng(2026);
  // Output sizes, each with inputs on every path: identity, exact 2x, enlarging, shrinking (odd
  // ratios), 1-wide / 1-high inputs and outputs.
  const int outs[][2] = {{64, 64}, {7, 5}, {1, 1}, {1, 9}, {9, 1}, {13, 24}};
  for (const auto& o : outs) {
    const int h = o[0], w = o[1];
    const int ins[][2] = {{h, w},  {2 * h, 2 * w}, {28, 28},   {3 * h + 1, 2 * w + 3}, {h + 1, w}, {h, w + 1}, {1, 1},
                          {1, 37}, {37, 1},        {2 * h, w}, {h / 2 + 1, 3},         {50, 70},   {2, 2}};
    for (const Contract& c : kContracts) {
      // One object for every input size: its tables must follow.
      PreprocessorRef ref(spec_of(c, h, w));
      Preprocessor fast(ref.spec());
      for (int li = 0; li < 5; ++li)
        for (const auto& in : ins)
          for (int pattern : {0, 1}) {
            const int H = in[0], W = in[1];
            const auto px = frame(rng, H, W, pixel_bytes(kLayouts[li]), pattern);
            compare(ref, fast, px, H, W, kLayouts[li],
                    std::string(c.name) + ", " + kLayoutNames[li] + " " + shape(H, W, h, w) +
                        (pattern ? ", 0/255 pixels" : ""));
          }
    }
  }
}

TEST(preprocess_matches_reference_on_the_classifier_frames) {
  std::mt19937 rng(7);
  struct Case {
    int H, W, h, w;
    PixelLayout layout;
    Contract c;
  };
  const Case cases[] = {
      {28, 28, 64, 64, PixelLayout::GRAY, kContracts[4]},  // the shipped model on the recorded clip
      {28, 28, 64, 64, PixelLayout::BGR, kContracts[4]},   // the same frames as the camera decodes them
      {480, 640, 224, 224, PixelLayout::RGB, kContracts[0]}, {480, 640, 64, 64, PixelLayout::RGB, kContracts[0]},
      {480, 640, 64, 64, PixelLayout::RGB, kContracts[4]},   {480, 640, 64, 64, PixelLayout::BGRA, kContracts[3]},
  };
  for (const Case& k : cases) {
    PreprocessorRef ref(spec_of(k.c, k.h, k.w));
    Preprocessor fast(ref.spec());
    const auto px = frame(rng, k.H, k.W, pixel_bytes(k.layout), 0);
    const std::string what = std::string(k.c.name) + ", " + shape(k.H, k.W, k.h, k.w);
    compare(ref, fast, px, k.H, k.W, k.layout, what);
    compare(ref, fast, px, k.H, k.W, k.layout, what + ", second frame (cached tables)");
  }
}

TEST(preprocess_tables_follow_the_input_size) {
  // Alternating sizes through one object, and a size that shares H (or W) with the one before: a
  // table kept for the wrong size gives wrong taps.
  std::mt19937 rng(11);
  PreprocessorRef ref(spec_of(kContracts[4], 64, 64));
  Preprocessor fast(ref.spec());
  const int sizes[][2] = {{28, 28}, {45, 61}, {28, 28}, {28, 61}, {45, 28}, {45, 61}, {64, 64}, {28, 28}};
  for (const auto& s : sizes) {
    const auto px = frame(rng, s[0], s[1], 1, 0);
    compare(ref, fast, px, s[0], s[1], PixelLayout::GRAY, "gray 1 plane, sequence at " + shape(s[0], s[1], 64, 64));
  }
}

TEST(preprocess_vertical_pass_is_exact_over_its_range) {
  // Every row value 0..32655 (255 * 2048 >> 4), against a reversed partner row, for edge and random
  // weight pairs summing to 2048 as the resize's do, and for lopsided ones. Lengths break the 16- and
  // 8-wide blocks' tails.
  constexpr int kMax = 255 * 2048 >> 4;
  std::vector<int16_t> s0(kMax + 1), s1(kMax + 1);
  for (int i = 0; i <= kMax; ++i) s0[size_t(i)] = int16_t(i), s1[size_t(i)] = int16_t(kMax - i);
  std::vector<uint8_t> got(s0.size());
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> weight(0, 2048);
  std::vector<std::pair<int, int>> weights = {{2048, 0}, {0, 2048}, {1024, 1024}, {1, 2047}, {2047, 1}, {2048, 2048}};
  for (int i = 0; i < 24; ++i) {
    const int b = weight(rng);
    weights.push_back({b, 2048 - b});
  }
  for (const auto& [b0, b1] : weights)
    for (int n : {kMax + 1, 23, 7}) {
      prep::blend_rows(s0.data(), s1.data(), n, b0, b1, got.data());
      for (int i = 0; i < n; ++i) {
        const int r = ((s0[size_t(i)] * b0) >> 16) + ((s1[size_t(i)] * b1) >> 16);
        const int want = std::min(std::max((r + 2) >> 2, 0), 255);
        if (got[size_t(i)] != want) {
          CHECK(false, "weights %d, %d, n %d: at %d (s0 %d, s1 %d) %d, expected %d", b0, b1, n, i, s0[size_t(i)],
                s1[size_t(i)], got[size_t(i)], want);
          break;
        }
      }
    }
}
