// What the reference preprocessing (ref/preprocess_ref.cpp) and the optimized one (preprocess.cpp)
// share: the definitions, not the loops. Internal to the core.
#pragma once
#include <cmath>
#include <cstdint>

#include "bluefire/preprocess.h"

namespace bluefire {
namespace prep {

constexpr int kCoefBits = 11;  // OpenCV's INTER_RESIZE_COEF_BITS
constexpr int kOne = 1 << kCoefBits;

// Byte offsets of R, G, B in one pixel of a layout, and the pixel's size.
struct Layout {
  int r, g, b, n;
};

constexpr Layout layout_of(PixelLayout l) {
  switch (l) {
    case PixelLayout::BGR: return {2, 1, 0, 3};
    case PixelLayout::GRAY: return {0, 0, 0, 1};
    case PixelLayout::RGBA: return {0, 1, 2, 4};
    case PixelLayout::BGRA: return {2, 1, 0, 4};
    default: return {0, 1, 2, 3};
  }
}

// OpenCV's fixed-point RGB2GRAY (14-bit weights); exact (the value itself) when r == g == b.
inline int luma(int r, int g, int b) { return (r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14; }

inline int16_t coef(float w) { return int16_t(std::lrint(w * kOne)); }

// OpenCV's half-pixel centres: output coordinate i of a resize by `scale` (input / output size)
// reads source index *s and the next with weights 1 - *f and *f (s unclamped, 0 <= f < 1).
inline void source_of(int i, double scale, int* s, float* f) {
  float fi = float((i + 0.5) * scale - 0.5);
  *s = int(std::floor(fi));
  *f = fi - float(*s);
}

// The same for a column of an input W wide: the index clamped to 0..W-1, the weight f then 0.
inline void source_column(int x, double scale, int W, int* sx, float* fx) {
  source_of(x, scale, sx, fx);
  if (*sx < 0) *fx = 0, *sx = 0;
  if (*sx >= W - 1) *fx = 0, *sx = W - 1;
}

// Throws std::invalid_argument naming what is wrong with the spec.
void check_spec(const PreprocessSpec& s);

// lut[c * 256 + v]: the normalised float of the uint8 value v in channel c, for c < s.channels.
void normalisation_table(const PreprocessSpec& s, float* lut);

// The resize's vertical pass over n values, OpenCV's SIMD rounding (preprocess.cpp, SSE2 / NEON):
// out[i] = clamp((hi16(s0[i] * b0) + hi16(s1[i] * b1) + 2) >> 2, 0, 255) for rows already >> 4
// (0 <= s <= 32655) and weights 0 <= b <= 2048.
void blend_rows(const int16_t* s0, const int16_t* s1, int n, int b0, int b1, uint8_t* out);

}  // namespace prep
}  // namespace bluefire
