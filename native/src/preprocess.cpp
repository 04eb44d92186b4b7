// OpenCV-compatible uint8 resize + normalisation, optimized; ref/preprocess_ref.cpp is the oracle and
// preprocess.h has the tolerance against OpenCV. Every branch on the layout, the colour and the path
// is taken once per frame (one template instance per layout and colour), never per pixel.
#include <algorithm>
#include <stdexcept>
#include <utility>

#include "preprocess_common.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace bluefire {
using namespace prep;
namespace {

// The value of channel c (0..2) of the pixel at p: its luma for a gray model.
template <PixelLayout L, bool Gray>
inline int value(const uint8_t* p, int c) {
  constexpr Layout K = layout_of(L);
  if constexpr (Gray) {
    if constexpr (K.n == 1) return p[0];  // the luma of r == g == b is the value itself
    else return luma(p[K.r], p[K.g], p[K.b]);
  } else {
    return p[c == 0 ? K.r : c == 1 ? K.g : K.b];
  }
}

// One source row, horizontally resized: dst[c * w + x] = (v(x0) * a0 + v(x1) * a1) >> 4 for each of
// the cs value planes. The reference shifts by 4 in the vertical pass; shifting here is the same
// integer, and fits int16 (at most 255 * 2048 >> 4).
template <PixelLayout L, bool Gray>
void resize_row(const uint8_t* row, const int* x0, const int* x1, const int16_t* alpha, int w, int16_t* dst) {
  constexpr int n = layout_of(L).n;
  for (int x = 0; x < w; ++x) {
    const uint8_t *p0 = row + n * x0[x], *p1 = row + n * x1[x];
    const int a0 = alpha[2 * x], a1 = alpha[2 * x + 1];
    if constexpr (Gray) {
      dst[x] = int16_t((value<L, true>(p0, 0) * a0 + value<L, true>(p1, 0) * a1) >> 4);
    } else {
      for (int c = 0; c < 3; ++c)
        dst[c * w + x] = int16_t((value<L, false>(p0, c) * a0 + value<L, false>(p1, c) * a1) >> 4);
    }
  }
}

}  // namespace

namespace prep {

// The vertical pass (preprocess_common.h). s <= 32655 and 0 <= b <= 2048, so each product is a non-negative int32 and
// hi16 is its exact >> 16 (SSE2 pmulhw; NEON a widening multiply and a narrowing shift), as in the reference's int
// arithmetic.
void blend_rows(const int16_t* s0, const int16_t* s1, int n, int b0, int b1, uint8_t* out) {
  int i = 0;
#if defined(__SSE2__)
  const __m128i B0 = _mm_set1_epi16(int16_t(b0)), B1 = _mm_set1_epi16(int16_t(b1)), two = _mm_set1_epi16(2);
  auto eight = [&](int at) {
    const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s0 + at));
    const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s1 + at));
    const __m128i r = _mm_add_epi16(_mm_add_epi16(_mm_mulhi_epi16(v0, B0), _mm_mulhi_epi16(v1, B1)), two);
    return _mm_srai_epi16(r, 2);
  };
  for (; i + 16 <= n; i += 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(eight(i), eight(i + 8)));
  for (; i + 8 <= n; i += 8) {
    const __m128i r = eight(i);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(r, r));
  }
#elif defined(__ARM_NEON)
  const int16x4_t B0 = vdup_n_s16(int16_t(b0)), B1 = vdup_n_s16(int16_t(b1));
  for (; i + 8 <= n; i += 8) {
    const int16x8_t v0 = vld1q_s16(s0 + i), v1 = vld1q_s16(s1 + i);
    const int16x8_t h0 = vcombine_s16(vshrn_n_s32(vmull_s16(vget_low_s16(v0), B0), 16),
                                      vshrn_n_s32(vmull_s16(vget_high_s16(v0), B0), 16));
    const int16x8_t h1 = vcombine_s16(vshrn_n_s32(vmull_s16(vget_low_s16(v1), B1), 16),
                                      vshrn_n_s32(vmull_s16(vget_high_s16(v1), B1), 16));
    vst1_u8(out + i, vqmovun_s16(vrshrq_n_s16(vaddq_s16(h0, h1), 2)));  // (r + 2) >> 2, clamped to 0..255
  }
#endif
  for (; i < n; ++i) {
    const int r = ((s0[i] * b0) >> 16) + ((s1[i] * b1) >> 16);
    out[i] = uint8_t(std::clamp((r + 2) >> 2, 0, 255));
  }
}

}  // namespace prep

Preprocessor::Preprocessor(const PreprocessSpec& s) : spec_(s) {
  check_spec(s);
  const size_t w = size_t(s.width), h = size_t(s.height);
  x0_.resize(w), x1_.resize(w), alpha_.resize(2 * w);
  y0_.resize(h), y1_.resize(h), beta_.resize(2 * h);
  rows_.resize(2 * 3 * w);
  vals_.resize(3 * w);
  lut_.resize(size_t(s.channels) * 256);
  normalisation_table(s, lut_.data());
}

// The taps of an H x W input, as the reference computes them (OpenCV's half-pixel centres). A tap past
// the last column reads that column with weight 0, where the reference adds 0 without reading.
void Preprocessor::resize_tables(int H, int W) {
  if (H == table_h_ && W == table_w_) return;
  const int h = spec_.height, w = spec_.width;
  const double scale_x = double(W) / w, scale_y = double(H) / h;
  for (int x = 0; x < w; ++x) {
    float fx = float((x + 0.5) * scale_x - 0.5);
    int sx = int(std::floor(fx));
    fx -= float(sx);
    if (sx < 0) fx = 0, sx = 0;
    if (sx >= W - 1) fx = 0, sx = W - 1;
    x0_[size_t(x)] = sx, x1_[size_t(x)] = std::min(sx + 1, W - 1);
    alpha_[2 * size_t(x)] = coef(1.f - fx), alpha_[2 * size_t(x) + 1] = coef(fx);
  }
  for (int y = 0; y < h; ++y) {
    float fy = float((y + 0.5) * scale_y - 0.5);
    int sy = int(std::floor(fy));
    fy -= float(sy);
    y0_[size_t(y)] = std::clamp(sy, 0, H - 1), y1_[size_t(y)] = std::clamp(sy + 1, 0, H - 1);
    beta_[2 * size_t(y)] = coef(1.f - fy), beta_[2 * size_t(y) + 1] = coef(fy);
  }
  table_h_ = H, table_w_ = W;
}

// Output row y of every plane from uint8 values: channel ch's value at column x is
// vals[offset[ch] + Step * x] (a gray model's channels all read the luma).
template <int Step>
void Preprocessor::emit_row(int y, const uint8_t* vals, const int* offset) {
  const int h = spec_.height, w = spec_.width;
  for (int ch = 0; ch < spec_.channels; ++ch) {
    const int plane = spec_.bgr && spec_.channels == 3 ? 2 - ch : ch;
    float* dst = out_ + (size_t(plane) * h + y) * w;
    const float* lut = lut_.data() + size_t(ch) * 256;
    const uint8_t* v = vals + offset[ch];
    for (int x = 0; x < w; ++x) dst[x] = lut[v[Step * x]];
  }
}

template <PixelLayout L, bool Gray>
void Preprocessor::run_as(const uint8_t* px, int H, int W) {
  constexpr Layout K = layout_of(L);
  constexpr int n = K.n, cs = Gray ? 1 : 3;  // values per pixel: the luma alone for a gray model
  const int h = spec_.height, w = spec_.width;
  uint8_t* vals = vals_.data();
  const int planar[3] = {0, Gray ? 0 : w, Gray ? 0 : 2 * w};  // channel offsets in vals (planes of w)

  if (H == h && W == w) {  // Python skips the resize too
    for (int y = 0; y < h; ++y) {
      const uint8_t* row = px + size_t(y) * W * n;
      if constexpr (Gray && n > 1) {
        for (int x = 0; x < w; ++x) vals[x] = uint8_t(value<L, true>(row + n * x, 0));
        emit_row<1>(y, vals, planar);
      } else {  // the bytes themselves (every channel of a GRAY pixel is its one byte)
        const int interleaved[3] = {Gray ? 0 : K.r, Gray ? 0 : K.g, Gray ? 0 : K.b};
        emit_row<n>(y, row, interleaved);
      }
    }
    return;
  }
  if (H == 2 * h && W == 2 * w) {  // OpenCV turns an exact 2x INTER_LINEAR downscale into INTER_AREA
    for (int y = 0; y < h; ++y) {
      const uint8_t* r0 = px + size_t(2 * y) * W * n;
      const uint8_t* r1 = r0 + size_t(W) * n;
      for (int c = 0; c < cs; ++c)
        for (int x = 0; x < w; ++x) {
          const uint8_t *p0 = r0 + 2 * n * x, *p1 = r1 + 2 * n * x;
          const int s =
              value<L, Gray>(p0, c) + value<L, Gray>(p0 + n, c) + value<L, Gray>(p1, c) + value<L, Gray>(p1 + n, c);
          vals[c * w + x] = uint8_t((s + 2) >> 2);
        }
      emit_row<1>(y, vals, planar);
    }
    return;
  }
  resize_tables(H, W);
  const size_t plane = size_t(cs) * w;
  int16_t *row0 = rows_.data(), *row1 = row0 + plane;
  int y0 = -1, y1 = -1;  // the source rows row0 / row1 hold, horizontally resized: each is resized once
  for (int y = 0; y < h; ++y) {
    const int a = y0_[size_t(y)], b = y1_[size_t(y)];
    if (a != y0 && a == y1) {  // moving down by one source row: the lower row becomes the upper one
      std::swap(row0, row1);
      std::swap(y0, y1);
    }
    if (a != y0) resize_row<L, Gray>(px + size_t(a) * W * n, x0_.data(), x1_.data(), alpha_.data(), w, row0), y0 = a;
    if (b != y1) resize_row<L, Gray>(px + size_t(b) * W * n, x0_.data(), x1_.data(), alpha_.data(), w, row1), y1 = b;
    blend_rows(row0, row1, int(plane), beta_[2 * size_t(y)], beta_[2 * size_t(y) + 1], vals);
    emit_row<1>(y, vals, planar);
  }
}

void Preprocessor::run(const uint8_t* px, int H, int W, float* out, PixelLayout layout) {
  if (H < 1 || W < 1) throw std::invalid_argument("image must be at least 1x1");
  out_ = out;
  const bool g = spec_.gray;
  switch (layout) {
    case PixelLayout::BGR:
      return g ? run_as<PixelLayout::BGR, true>(px, H, W) : run_as<PixelLayout::BGR, false>(px, H, W);
    case PixelLayout::GRAY:
      return g ? run_as<PixelLayout::GRAY, true>(px, H, W) : run_as<PixelLayout::GRAY, false>(px, H, W);
    case PixelLayout::RGBA:
      return g ? run_as<PixelLayout::RGBA, true>(px, H, W) : run_as<PixelLayout::RGBA, false>(px, H, W);
    case PixelLayout::BGRA:
      return g ? run_as<PixelLayout::BGRA, true>(px, H, W) : run_as<PixelLayout::BGRA, false>(px, H, W);
    default: return g ? run_as<PixelLayout::RGB, true>(px, H, W) : run_as<PixelLayout::RGB, false>(px, H, W);
  }
}

}  // namespace bluefire
