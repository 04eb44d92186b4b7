// uint8 max-pool in two passes per output row: the max of the window's input rows (a byte-wise max
// over whole rows, which compilers vectorise: pmaxub / umax), then the max over each window's
// columns (for 3-wide windows: the max of every 3 neighbours, vectorised, then every sw-th). The optimized variants'
// pooling; maxpool_u8_ref is its oracle.
#include <algorithm>
#include <cstring>

#include "bluefire/kernels_s8.h"

namespace bluefire {
namespace {

// 16 bytes as one vector on every target (GCC / Clang vector extension: pmaxub on x86, umax on NEON).
typedef uint8_t V16 __attribute__((vector_size(16)));
inline V16 load16(const uint8_t* p) {
  V16 v;
  std::memcpy(&v, p, 16);
  return v;
}
inline V16 max16(V16 a, V16 b) { return a > b ? a : b; }

}  // namespace

namespace {

// out[i] = max(in[i], in[i + step], ..., in[i + (taps - 1) * step]) for i < n, 16 at a time, the
// last block overlapping the one before (rewriting a max is harmless).
void max_shifted(const uint8_t* in, int n, int step, int taps, uint8_t* out) {
  auto block = [&](int at) {
    V16 v = load16(in + at);
    for (int t = 1; t < taps; ++t) v = max16(v, load16(in + at + t * step));
    std::memcpy(out + at, &v, 16);
  };
  int i = 0;
  for (; i + 16 <= n; i += 16) block(i);
  if (i < n && n >= 16) block(n - 16);
  else
    for (; i < n; ++i) {
      uint8_t v = in[i];
      for (int t = 1; t < taps; ++t) v = std::max(v, in[i + t * step]);
      out[i] = v;
    }
}

// Output (oy, ox) from the window clipped to the input (the reference's formula).
uint8_t clipped(const MaxPoolU8Args& a, const uint8_t* in, int oy, int ox) {
  const int y0 = std::max(0, oy * a.sh - a.pad_top), y1 = std::min(a.H, oy * a.sh - a.pad_top + a.kh);
  const int x0 = std::max(0, ox * a.sw - a.pad_left), x1 = std::min(a.W, ox * a.sw - a.pad_left + a.kw);
  uint8_t v = 0;
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) v = std::max(v, in[y * a.W + x]);
  return v;
}

}  // namespace

// Small unpadded maps whose rows are too short for the row path's vectors (W < 18: SqueezeNet's
// 3x3 s2 pools on 15x15 and 7x7 maps at 64x64): the plane as one flat array. V = the max of kh rows at every flat
// position where the window's rows exist, then Hh = the max of 3 neighbours of V, both vectorised over the whole plane
// (a position whose 3 neighbours wrap into the next row is never read), and each whole window is one byte of Hh;
// windows clipped by the map's end take the reference's formula.
constexpr int kMaxPlane = 4096;
bool maxpool_u8_plane(const MaxPoolU8Args& a) {
  if (a.pad_top != 0 || a.pad_left != 0 || a.kw != 3 || a.H < a.kh || a.W < 3 || a.W >= 18 || a.H * a.W > kMaxPlane)
    return false;
  uint8_t v[kMaxPlane], h[kMaxPlane];
  const int n = (a.H - a.kh + 1) * a.W;
  const int rows = std::min(a.OH, (a.H - a.kh) / a.sh + 1), cols = std::min(a.OW, (a.W - 3) / a.sw + 1);
  for (int c = a.c0; c < a.c1; ++c) {
    const uint8_t* in = a.in + size_t(c) * a.H * a.W;
    uint8_t* out = a.out + size_t(c) * a.OH * a.OW;
    max_shifted(in, n, a.W, a.kh, v);
    max_shifted(v, n - 2, 1, 3, h);
    for (int oy = 0; oy < a.OH; ++oy) {
      uint8_t* o = out + size_t(oy) * a.OW;
      int ox = 0;
      if (oy < rows)
        for (const uint8_t* hr = h + size_t(oy) * a.sh * a.W; ox < cols; ++ox) o[ox] = hr[ox * a.sw];
      for (; ox < a.OW; ++ox) o[ox] = clipped(a, in, oy, ox);
    }
  }
  return true;
}

void maxpool_u8_rows(const MaxPoolU8Args& a) {
  if (maxpool_u8_plane(a)) return;
  constexpr int kMaxW = 4096;
  uint8_t row[kMaxW];
  for (int c = a.c0; c < a.c1; ++c) {
    const uint8_t* in = a.in + size_t(c) * a.H * a.W;
    uint8_t* out = a.out + size_t(c) * a.OH * a.OW;
    for (int oy = 0; oy < a.OH; ++oy) {
      const int y0 = std::max(0, oy * a.sh - a.pad_top), y1 = std::min(a.H, oy * a.sh - a.pad_top + a.kh);
      if (a.W > kMaxW || y1 <= y0) {  // rows wider than the buffer (never in SqueezeNet): the reference's way
        MaxPoolU8Args one = a;
        one.c0 = c, one.c1 = c + 1;
        maxpool_u8_ref(one);
        break;
      }
      // the window's rows max-ed 16 columns at a time; a row of 16 or more ends on one last
      // overlapping vector rather than a scalar tail (max is idempotent: rewriting a column is harmless)
      auto rows_max = [&](int at) {
        V16 v = load16(in + size_t(y0) * a.W + at);
        for (int y = y0 + 1; y < y1; ++y) v = max16(v, load16(in + size_t(y) * a.W + at));
        std::memcpy(row + at, &v, 16);
      };
      int xb = 0;
      for (; xb + 16 <= a.W; xb += 16) rows_max(xb);
      if (xb < a.W && a.W >= 16) rows_max(a.W - 16);
      else
        for (; xb < a.W; ++xb) {
          uint8_t v = in[size_t(y0) * a.W + xb];
          for (int y = y0 + 1; y < y1; ++y) v = std::max(v, in[size_t(y) * a.W + xb]);
          row[xb] = v;
        }
      uint8_t* o = out + size_t(oy) * a.OW;
      int ox = 0;
      if (a.kw == 3 && a.pad_left == 0 && a.W >= 3) {  // SqueezeNet's pools: the max of every 3 columns
        uint8_t h[kMaxW];                              // (vectorised, the same way), then every sw-th of them
        auto cols_max = [&](int at) {
          const V16 v = max16(max16(load16(row + at), load16(row + at + 1)), load16(row + at + 2));
          std::memcpy(h + at, &v, 16);
        };
        xb = 0;
        for (; xb + 18 <= a.W; xb += 16) cols_max(xb);
        if (xb + 2 < a.W && a.W >= 18) cols_max(a.W - 18);
        else
          for (; xb + 2 < a.W; ++xb) h[xb] = std::max(std::max(row[xb], row[xb + 1]), row[xb + 2]);
        const int whole = std::min(a.OW, (a.W - 3) / a.sw + 1);
        for (; ox < whole; ++ox) o[ox] = h[ox * a.sw];
      }
      for (; ox < a.OW; ++ox) {
        const int x0 = std::max(0, ox * a.sw - a.pad_left), x1 = std::min(a.W, ox * a.sw - a.pad_left + a.kw);
        uint8_t v = 0;
        for (int x = x0; x < x1; ++x) v = std::max(v, row[x]);
        o[ox] = v;
      }
    }
  }
}

}  // namespace bluefire
