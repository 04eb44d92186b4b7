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

void maxpool_u8_rows(const MaxPoolU8Args& a) {
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
      std::memcpy(row, in + size_t(y0) * a.W, size_t(a.W));
      for (int y = y0 + 1; y < y1; ++y) {
        const uint8_t* r = in + size_t(y) * a.W;
        int x = 0;
        for (; x + 16 <= a.W; x += 16) {
          const V16 v = max16(load16(row + x), load16(r + x));
          std::memcpy(row + x, &v, 16);
        }
        for (; x < a.W; ++x) row[x] = std::max(row[x], r[x]);
      }
      uint8_t* o = out + size_t(oy) * a.OW;
      int ox = 0;
      if (a.kw == 3 && a.pad_left == 0 && a.W >= 3) {  // SqueezeNet's pools: the max of every 3 columns
        uint8_t h[kMaxW];                              // (vectorised), then every sw-th of them
        int x = 0;
        for (; x + 18 <= a.W; x += 16) {
          const V16 v = max16(max16(load16(row + x), load16(row + x + 1)), load16(row + x + 2));
          std::memcpy(h + x, &v, 16);
        }
        for (; x + 2 < a.W; ++x) h[x] = std::max(std::max(row[x], row[x + 1]), row[x + 2]);
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
