// OpenCV-compatible uint8 resize + normalisation, optimized; ref/preprocess_ref.cpp is the oracle and
// preprocess.h has the tolerance against OpenCV. Every branch on the layout, the colour and the path
// is taken once per frame (one template instance per layout and colour), never per pixel.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "preprocess_common.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__aarch64__)
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

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// The horizontal pass: each output column blends the source pixels x0 and x0 + 1 with weights
// (a0, a1) = alpha[2x], alpha[2x + 1] (resize_tables makes every pair adjacent and in range when
// W >= 2). Results are >> 4, as the reference does in its vertical pass (the same integer: the
// shift comes before any other arithmetic), which fits int16: at most 255 * 2048 >> 4.

// One value per pixel (a gray row, or a luma row): dst[x] = (v[x0] * a0 + v[x0 + 1] * a1) >> 4.
void resize_gray_row(const uint8_t* v, const int* x0, const int16_t* alpha, int w, int16_t* dst) {
  int x = 0;
#if defined(__SSE2__)
  // Eight pairs (v[x0], v[x0 + 1]), one 16-bit load each, widened to int16 pairs: one pmaddwd per four.
  const __m128i zero = _mm_setzero_si128();
  for (; x + 8 <= w; x += 8) {
    __m128i p = _mm_cvtsi32_si128(load_u16(v + x0[x]));
    p = _mm_insert_epi16(p, load_u16(v + x0[x + 1]), 1);
    p = _mm_insert_epi16(p, load_u16(v + x0[x + 2]), 2);
    p = _mm_insert_epi16(p, load_u16(v + x0[x + 3]), 3);
    p = _mm_insert_epi16(p, load_u16(v + x0[x + 4]), 4);
    p = _mm_insert_epi16(p, load_u16(v + x0[x + 5]), 5);
    p = _mm_insert_epi16(p, load_u16(v + x0[x + 6]), 6);
    p = _mm_insert_epi16(p, load_u16(v + x0[x + 7]), 7);
    const __m128i a_lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(alpha + 2 * x));
    const __m128i a_hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(alpha + 2 * x + 8));
    const __m128i lo = _mm_srai_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(p, zero), a_lo), 4);
    const __m128i hi = _mm_srai_epi32(_mm_madd_epi16(_mm_unpackhi_epi8(p, zero), a_hi), 4);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + x), _mm_packs_epi32(lo, hi));
  }
#elif defined(__aarch64__)
  for (; x + 8 <= w; x += 8) {
    uint16x8_t p = vdupq_n_u16(0);
    p = vsetq_lane_u16(load_u16(v + x0[x]), p, 0);
    p = vsetq_lane_u16(load_u16(v + x0[x + 1]), p, 1);
    p = vsetq_lane_u16(load_u16(v + x0[x + 2]), p, 2);
    p = vsetq_lane_u16(load_u16(v + x0[x + 3]), p, 3);
    p = vsetq_lane_u16(load_u16(v + x0[x + 4]), p, 4);
    p = vsetq_lane_u16(load_u16(v + x0[x + 5]), p, 5);
    p = vsetq_lane_u16(load_u16(v + x0[x + 6]), p, 6);
    p = vsetq_lane_u16(load_u16(v + x0[x + 7]), p, 7);
    const int16x8_t v0 = vreinterpretq_s16_u16(vandq_u16(p, vdupq_n_u16(0xff)));  // little-endian: v[x0] low
    const int16x8_t v1 = vreinterpretq_s16_u16(vshrq_n_u16(p, 8));
    const int16x8x2_t a = vld2q_s16(alpha + 2 * x);  // a.val[0]: the a0s, a.val[1]: the a1s
    const int32x4_t lo =
        vmlal_s16(vmull_s16(vget_low_s16(v0), vget_low_s16(a.val[0])), vget_low_s16(v1), vget_low_s16(a.val[1]));
    const int32x4_t hi =
        vmlal_s16(vmull_s16(vget_high_s16(v0), vget_high_s16(a.val[0])), vget_high_s16(v1), vget_high_s16(a.val[1]));
    vst1q_s16(dst + x, vcombine_s16(vshrn_n_s32(lo, 4), vshrn_n_s32(hi, 4)));
  }
#endif
  for (; x < w; ++x) dst[x] = int16_t((v[x0[x]] * alpha[2 * x] + v[x0[x] + 1] * alpha[2 * x + 1]) >> 4);
}

// Three channels, n bytes per pixel (3 or 4): dst[4x + j] = (p0[j] * a0 + p1[j] * a1) >> 4 for the
// bytes j < 3 of the two pixels, in memory order; lane 3 is a filler the emission never reads. Four
// bytes are read per pixel: for n == 3 the columns from x_end on (whose second pixel may be the last
// of the frame) take the scalar loop.
template <int n>
void resize_color_row(const uint8_t* row, const int* x0, const int16_t* alpha, int w, int x_end, int16_t* dst) {
  int x = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128();
  auto one = [&](int at) {  // (r0 r1 g0 g1 b0 b1 f0 f1) as int16 pairs, times (a0 a1): four int32
    const uint8_t* p = row + n * x0[at];
    const __m128i b = _mm_unpacklo_epi8(_mm_cvtsi32_si128(int(load_u32(p))), _mm_cvtsi32_si128(int(load_u32(p + n))));
    const __m128i a = _mm_set1_epi32(int(load_u32(alpha + 2 * at)));
    return _mm_srai_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(b, zero), a), 4);
  };
  for (; x + 2 <= x_end; x += 2)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 4 * x), _mm_packs_epi32(one(x), one(x + 1)));
#elif defined(__aarch64__)
  for (; x < x_end; ++x) {
    const uint8_t* p = row + n * x0[x];
    const int16x4_t v0 = vreinterpret_s16_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(load_u32(p))))));
    const int16x4_t v1 = vreinterpret_s16_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(load_u32(p + n))))));
    vst1_s16(dst + 4 * x, vshrn_n_s32(vmlal_n_s16(vmull_n_s16(v0, alpha[2 * x]), v1, alpha[2 * x + 1]), 4));
  }
#else
  (void)x_end;
#endif
  for (; x < w; ++x) {
    const uint8_t *p0 = row + n * x0[x], *p1 = p0 + n;
    const int a0 = alpha[2 * x], a1 = alpha[2 * x + 1];
    for (int j = 0; j < 3; ++j) dst[4 * x + j] = int16_t((p0[j] * a0 + p1[j] * a1) >> 4);
    dst[4 * x + 3] = 0;
  }
}

// luma()'s weight of byte j of a pixel (0 for the alpha / a byte of the next pixel).
constexpr int16_t luma_weight(Layout K, int j) { return j == K.r ? 4899 : j == K.g ? 9617 : j == K.b ? 1868 : 0; }

#if defined(__SSE2__)
// The lumas of the pixels at p0..p3 (four bytes read at each) as int32, exactly luma(): pmaddwd with
// the layout's weights, then the sums of its pairs.
template <PixelLayout L>
inline __m128i lumas4(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3) {
  constexpr Layout K = layout_of(L);
  const __m128i weights = _mm_setr_epi16(luma_weight(K, 0), luma_weight(K, 1), luma_weight(K, 2), luma_weight(K, 3),
                                         luma_weight(K, 0), luma_weight(K, 1), luma_weight(K, 2), luma_weight(K, 3));
  const __m128i zero = _mm_setzero_si128();
  auto two = [](const uint8_t* a, const uint8_t* b) {
    return _mm_unpacklo_epi32(_mm_cvtsi32_si128(int(load_u32(a))), _mm_cvtsi32_si128(int(load_u32(b))));
  };
  const __m128i px = _mm_unpacklo_epi64(two(p0, p1), two(p2, p3));
  const __m128i m0 = _mm_madd_epi16(_mm_unpacklo_epi8(px, zero), weights);  // (rg, b) of p0, of p1
  const __m128i m1 = _mm_madd_epi16(_mm_unpackhi_epi8(px, zero), weights);
  const __m128 f0 = _mm_castsi128_ps(m0), f1 = _mm_castsi128_ps(m1);  // shuffles only: no float arithmetic
  const __m128i even = _mm_castps_si128(_mm_shuffle_ps(f0, f1, _MM_SHUFFLE(2, 0, 2, 0)));
  const __m128i odd = _mm_castps_si128(_mm_shuffle_ps(f0, f1, _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm_srai_epi32(_mm_add_epi32(_mm_add_epi32(even, odd), _mm_set1_epi32(1 << 13)), 14);
}
#elif defined(__aarch64__)
// The lumas of eight pixels from their bytes j = 0, 1, 2 (NEON, unsigned: every term is
// non-negative): (r * 4899 + g * 9617 + b * 1868 + 2^13) >> 14, the rounding narrowing shift.
template <PixelLayout L>
inline uint16x8_t lumas8(uint8x8_t b0, uint8x8_t b1, uint8x8_t b2) {
  constexpr Layout K = layout_of(L);
  const uint16x8_t by[3] = {vmovl_u8(b0), vmovl_u8(b1), vmovl_u8(b2)};
  const uint16x8_t r = by[K.r], g = by[K.g], b = by[K.b];
  const uint32x4_t lo =
      vmlal_n_u16(vmlal_n_u16(vmull_n_u16(vget_low_u16(r), 4899), vget_low_u16(g), 9617), vget_low_u16(b), 1868);
  const uint32x4_t hi =
      vmlal_n_u16(vmlal_n_u16(vmull_n_u16(vget_high_u16(r), 4899), vget_high_u16(g), 9617), vget_high_u16(b), 1868);
  return vcombine_u16(vrshrn_n_u32(lo, 14), vrshrn_n_u32(hi, 14));
}
#endif

// out[x] = the luma of pixel x of a row of W 3- or 4-byte pixels.
template <PixelLayout L>
void luma_row(const uint8_t* row, int W, uint8_t* out) {
  constexpr Layout K = layout_of(L);
  constexpr int n = K.n;
  int x = 0;
#if defined(__SSE2__)
  const int end = n == 3 ? W - 1 : W;  // a 3-byte pixel's four-byte read takes a byte of the next pixel
  for (; x + 4 <= end; x += 4) {
    const uint8_t* p = row + n * x;
    const __m128i l = _mm_packs_epi32(lumas4<L>(p, p + n, p + 2 * n, p + 3 * n), _mm_setzero_si128());
    const uint32_t four = uint32_t(_mm_cvtsi128_si32(_mm_packus_epi16(l, l)));
    std::memcpy(out + x, &four, 4);
  }
#elif defined(__aarch64__)
  for (; x + 8 <= W; x += 8) {
    if constexpr (n == 3) {
      const uint8x8x3_t p = vld3_u8(row + 3 * x);
      vst1_u8(out + x, vmovn_u16(lumas8<L>(p.val[0], p.val[1], p.val[2])));
    } else {
      const uint8x8x4_t p = vld4_u8(row + 4 * x);
      vst1_u8(out + x, vmovn_u16(lumas8<L>(p.val[0], p.val[1], p.val[2])));
    }
  }
#endif
  for (; x < W; ++x) out[x] = uint8_t(luma(row[n * x + K.r], row[n * x + K.g], row[n * x + K.b]));
}

// A gray model on 3- or 4-byte pixels: dst[x] = (luma(p0) * a0 + luma(p1) * a1) >> 4 (for a downscale:
// an upscale takes luma_row, then resize_gray_row). x_end as for resize_color_row.
template <PixelLayout L>
void resize_luma_row(const uint8_t* row, const int* x0, const int16_t* alpha, int w, int x_end, int16_t* dst) {
  constexpr Layout K = layout_of(L);
  constexpr int n = K.n;
  int x = 0;
#if defined(__SSE2__)
  auto lumas = [&](int at) {  // the lumas of the pixel pairs of columns at, at + 1
    const uint8_t *p = row + n * x0[at], *q = row + n * x0[at + 1];
    return lumas4<L>(p, p + n, q, q + n);
  };
  for (; x + 4 <= x_end; x += 4) {
    const __m128i l = _mm_packs_epi32(lumas(x), lumas(x + 2));  // (l0, l1) pairs of four columns
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(alpha + 2 * x));
    const __m128i r = _mm_srai_epi32(_mm_madd_epi16(l, a), 4);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + x), _mm_packs_epi32(r, r));
  }
#elif defined(__aarch64__)
  for (; x + 4 <= x_end; x += 4) {
    // The pixel pairs of four columns, four bytes each, split into their bytes 0, 1, 2 by two rounds
    // of unzipping; then the eight lumas, and each column's (l0 * a0 + l1 * a1) as a pairwise sum.
    uint32x4_t q0 = vdupq_n_u32(0), q1 = vdupq_n_u32(0);
    const uint8_t *c0 = row + n * x0[x], *c1 = row + n * x0[x + 1], *c2 = row + n * x0[x + 2],
                  *c3 = row + n * x0[x + 3];
    q0 = vsetq_lane_u32(load_u32(c0), q0, 0), q0 = vsetq_lane_u32(load_u32(c0 + n), q0, 1);
    q0 = vsetq_lane_u32(load_u32(c1), q0, 2), q0 = vsetq_lane_u32(load_u32(c1 + n), q0, 3);
    q1 = vsetq_lane_u32(load_u32(c2), q1, 0), q1 = vsetq_lane_u32(load_u32(c2 + n), q1, 1);
    q1 = vsetq_lane_u32(load_u32(c3), q1, 2), q1 = vsetq_lane_u32(load_u32(c3 + n), q1, 3);
    const uint8x16_t even = vuzp1q_u8(vreinterpretq_u8_u32(q0), vreinterpretq_u8_u32(q1));  // bytes 0, 2
    const uint8x16_t odd = vuzp2q_u8(vreinterpretq_u8_u32(q0), vreinterpretq_u8_u32(q1));   // bytes 1, 3
    const int16x8_t l = vreinterpretq_s16_u16(lumas8<L>(
        vget_low_u8(vuzp1q_u8(even, even)), vget_low_u8(vuzp1q_u8(odd, odd)), vget_low_u8(vuzp2q_u8(even, even))));
    const int16x8_t a = vld1q_s16(alpha + 2 * x);
    const int32x4_t lo = vmull_s16(vget_low_s16(l), vget_low_s16(a)),
                    hi = vmull_s16(vget_high_s16(l), vget_high_s16(a));
    vst1_s16(dst + x, vshrn_n_s32(vpaddq_s32(lo, hi), 4));
  }
#else
  (void)x_end;
#endif
  for (; x < w; ++x) {
    const uint8_t *p0 = row + n * x0[x], *p1 = p0 + n;
    dst[x] = int16_t(
        (luma(p0[K.r], p0[K.g], p0[K.b]) * alpha[2 * x] + luma(p1[K.r], p1[K.g], p1[K.b]) * alpha[2 * x + 1]) >> 4);
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
#elif defined(__aarch64__)
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
  x0_.resize(w), alpha_.resize(2 * w);
  y0_.resize(h), y1_.resize(h), beta_.resize(2 * h);
  rows_.resize(2 * 4 * w);
  vals_.resize(4 * w);
  lut_.resize(size_t(s.channels) * 256);
  normalisation_table(s, lut_.data());
}

// The taps of an H x W input, as the reference computes them (OpenCV's half-pixel centres), with
// every column's pair made adjacent when W >= 2: the reference's last-column tap (sx = W - 1, weights
// 2048 and 0, the second pixel not read) becomes (W - 2, W - 1) with weights 0 and 2048, the same sum.
void Preprocessor::resize_tables(int H, int W) {
  if (H == table_h_ && W == table_w_) return;
  const int h = spec_.height, w = spec_.width;
  const double scale_x = double(W) / w, scale_y = double(H) / h;
  for (int x = 0; x < w; ++x) {
    int sx;
    float fx;
    source_column(x, scale_x, W, &sx, &fx);
    int16_t a0 = coef(1.f - fx), a1 = coef(fx);
    if (sx == W - 1 && W >= 2) sx = W - 2, std::swap(a0, a1);
    x0_[size_t(x)] = sx, alpha_[2 * size_t(x)] = a0, alpha_[2 * size_t(x) + 1] = a1;
  }
  for (int y = 0; y < h; ++y) {
    int sy;
    float fy;
    source_of(y, scale_y, &sy, &fy);
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
    int x = 0;
#if defined(__SSE2__)
    // Four lookups, then one store: a float store after each lookup ran much slower for some
    // placements of the output relative to the table (loads and stores aliasing modulo 4 KiB).
    for (; x + 4 <= w; x += 4)
      _mm_storeu_ps(dst + x, _mm_setr_ps(lut[v[Step * x]], lut[v[Step * (x + 1)]], lut[v[Step * (x + 2)]],
                                         lut[v[Step * (x + 3)]]));
#endif
    for (; x < w; ++x) dst[x] = lut[v[Step * x]];
  }
}

template <PixelLayout L, bool Gray>
void Preprocessor::run_as(const uint8_t* px, int H, int W) {
  constexpr Layout K = layout_of(L);
  constexpr int n = K.n;
  // Values per pixel in the row buffers: one (the luma, or the byte every channel of a GRAY pixel
  // reads) or four (the pixel's bytes in memory order, the fourth unused).
  constexpr int lanes = Gray || n == 1 ? 1 : 4;
  constexpr int offset[3] = {lanes == 1 ? 0 : K.r, lanes == 1 ? 0 : K.g, lanes == 1 ? 0 : K.b};
  const int h = spec_.height, w = spec_.width;
  uint8_t* vals = vals_.data();

  if (H == h && W == w) {  // Python skips the resize too
    for (int y = 0; y < h; ++y) {
      const uint8_t* row = px + size_t(y) * W * n;
      if constexpr (Gray && n > 1) {
        luma_row<L>(row, w, vals);
        emit_row<1>(y, vals, offset);
      } else {
        emit_row<n>(y, row, offset);  // the bytes themselves
      }
    }
    return;
  }
  if (H == 2 * h && W == 2 * w) {  // OpenCV turns an exact 2x INTER_LINEAR downscale into INTER_AREA
    for (int y = 0; y < h; ++y) {
      const uint8_t* r0 = px + size_t(2 * y) * W * n;
      const uint8_t* r1 = r0 + size_t(W) * n;
      if constexpr (lanes == 1) {
        for (int x = 0; x < w; ++x) {
          const uint8_t *p0 = r0 + 2 * n * x, *p1 = r1 + 2 * n * x;
          const int s =
              value<L, Gray>(p0, 0) + value<L, Gray>(p0 + n, 0) + value<L, Gray>(p1, 0) + value<L, Gray>(p1 + n, 0);
          vals[x] = uint8_t((s + 2) >> 2);
        }
      } else {
        for (int x = 0; x < w; ++x)
          for (int j = 0; j < 3; ++j) {
            const uint8_t *p0 = r0 + 2 * n * x + j, *p1 = r1 + 2 * n * x + j;
            vals[4 * x + j] = uint8_t((p0[0] + p0[n] + p1[0] + p1[n] + 2) >> 2);
          }
      }
      emit_row<lanes>(y, vals, offset);
    }
    return;
  }
  resize_tables(H, W);
  const int* x0 = x0_.data();
  const int16_t* alpha = alpha_.data();
  int x_end = w;  // the vector loops' columns whose four-byte reads of 3-byte pixels stay in the frame
  if constexpr (n == 3)
    while (x_end > 0 && x0[x_end - 1] + 2 >= W) --x_end;
  // A gray model's lumas: per tap, 2w a row, gathered; or the row's W, contiguous, then the one-value
  // resize. The row wins while W is below about 1.7 w (measured on the x86 host; vals_ holds 4w).
  const bool luma_first = Gray && n > 1 && 2 * W <= 3 * w;
  auto resize = [&](const uint8_t* row, int16_t* dst) {
    if (W == 1) {  // no pair to read: the reference's v * 2048 + 0
      for (int x = 0; x < w; ++x)
        for (int j = 0; j < lanes; ++j)  // a colour lane j is byte j of the pixel (lane 3: a filler)
          dst[lanes * x + j] = int16_t((lanes == 1 ? value<L, Gray>(row, 0) : j < 3 ? row[j] : 0) * kOne >> 4);
    } else if constexpr (lanes == 4) {
      resize_color_row<n>(row, x0, alpha, w, x_end, dst);
    } else if constexpr (n == 1) {
      resize_gray_row(row, x0, alpha, w, dst);
    } else if (luma_first) {
      luma_row<L>(row, W, vals);
      resize_gray_row(vals, x0, alpha, w, dst);
    } else {
      resize_luma_row<L>(row, x0, alpha, w, x_end, dst);
    }
  };
  const int count = lanes * w;
  int16_t *row0 = rows_.data(), *row1 = row0 + count;
  int y0 = -1, y1 = -1;  // the source rows row0 / row1 hold, horizontally resized: each is resized once
  for (int y = 0; y < h; ++y) {
    const int a = y0_[size_t(y)], b = y1_[size_t(y)];
    if (a != y0 && a == y1) {  // moving down by one source row: the lower row becomes the upper one
      std::swap(row0, row1);
      std::swap(y0, y1);
    }
    if (a != y0) resize(px + size_t(a) * W * n, row0), y0 = a;
    if (b != y1) resize(px + size_t(b) * W * n, row1), y1 = b;
    blend_rows(row0, row1, count, beta_[2 * size_t(y)], beta_[2 * size_t(y) + 1], vals);
    emit_row<lanes>(y, vals, offset);
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
