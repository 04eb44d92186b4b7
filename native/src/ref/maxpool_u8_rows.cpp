// uint8 max-pool in two passes per output row: the max of the window's input rows (a byte-wise max
// over whole rows, which compilers vectorise: pmaxub / umax), then the max over each window's
// columns (3 wide at stride 2: 16 windows at a time from the even and odd bytes; other 3-wide
// windows: the max of every 3 neighbours, vectorised, then every sw-th). The optimized variants'
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

// Bytes 0, 2, ..., 30 from p: the low byte of each of 16 little-endian 16-bit lanes, a truncating
// conversion, which GCC lowers to pand + packuswb (SSE2) or uzp1 (NEON); no per-byte picks.
typedef uint16_t U16x16 __attribute__((vector_size(32)));
inline V16 evens32(const uint8_t* p) {
  U16x16 w;
  std::memcpy(&w, p, 32);
  return __builtin_convertvector(w, V16);
}

// The first n <= 16 bytes of v to out, all 16 when they stay before `end` (the end of this call's
// output: the bytes past n are then outputs written after these, and one store is cheaper than
// a variable-length copy).
inline void store_first(uint8_t* out, V16 v, int n, const uint8_t* end) {
  if (end - out >= 16) std::memcpy(out, &v, 16);
  else std::memcpy(out, &v, size_t(n));
}

// Windows 3 wide at stride 2 over the rows r[0 .. nr) (each r[j][0 .. 2 * n + 34) readable):
// out[i] = max over j of max(r[j][2i], r[j][2i + 1], r[j][2i + 2]) for i < n, 16 at a time.
inline void max3_stride2(const uint8_t* const* r, int nr, int n, uint8_t* out, const uint8_t* end) {
  for (int i = 0; i < n; i += 16) {
    V16 v = {};
    for (int j = 0; j < nr; ++j) {
      const uint8_t* p = r[j] + 2 * i;
      v = max16(v, max16(max16(evens32(p), evens32(p + 1)), evens32(p + 2)));
    }
    store_first(out + i, v, std::min(16, n - i), end);
  }
}

}  // namespace

namespace {

// out[i] = the max of the kh x 3 box at in + i (rows W apart) for i < n, 16 at a time straight
// from the input, the last block overlapping the one before. (Two passes, rows then columns
// through a buffer, read that buffer at +1 and +2 right after storing it: a load across two
// fresh stores waits for them, no store forwarding; that was most of a small pool's time.)
void max_box3(const uint8_t* in, int n, int W, int kh, uint8_t* out) {
  auto box = [&](const uint8_t* p) {
    V16 v = max16(max16(load16(p), load16(p + 1)), load16(p + 2));
    for (int y = 1; y < kh; ++y)
      v = max16(v, max16(max16(load16(p + y * W), load16(p + y * W + 1)), load16(p + y * W + 2)));
    return v;
  };
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const V16 v = box(in + i);
    std::memcpy(out + i, &v, 16);
  }
  if (i < n && n >= 16) {
    const V16 v = box(in + n - 16);
    std::memcpy(out + n - 16, &v, 16);
  } else {
    for (; i < n; ++i) {
      uint8_t v = 0;
      for (int y = 0; y < kh; ++y)
        for (int x = 0; x < 3; ++x) v = std::max(v, in[i + y * W + x]);
      out[i] = v;
    }
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
// 3x3 s2 pools on 15x15 and 7x7 maps at 64x64): the plane as one flat array. h = the max of the
// kh x 3 box at every flat position where the window's rows exist, vectorised over the whole
// plane (a position whose box wraps into the next row is never read), and each whole window is
// one byte of h; windows clipped by the map's end take the reference's formula.
constexpr int kMaxPlane = 4096;
bool maxpool_u8_plane(const MaxPoolU8Args& a) {
  if (a.pad_top != 0 || a.pad_left != 0 || a.kw != 3 || a.H < a.kh || a.W < 3 || a.W >= 18 || a.H * a.W > kMaxPlane)
    return false;
  uint8_t h[kMaxPlane];
  const int n = (a.H - a.kh + 1) * a.W;
  const int rows = std::min(a.OH, (a.H - a.kh) / a.sh + 1), cols = std::min(a.OW, (a.W - 3) / a.sw + 1);
  const uint8_t* safe = a.in + size_t(a.c1) * a.H * a.W;  // this call's input ends here
  const uint8_t* end = a.out + size_t(a.c1) * a.OH * a.OW;
  for (int c = a.c0; c < a.c1; ++c) {
    const uint8_t* in = a.in + size_t(c) * a.H * a.W;
    uint8_t* out = a.out + size_t(c) * a.OH * a.OW;
    if (a.sw == 2) {
      // only the boxes at the window starts: per output row one box of 16 positions (its
      // windows start at even ones: W < 18 gives at most 8), their even bytes by a truncating
      // conversion, all in registers; the reference's formula where the box would read past the
      // call's input (the last rows of its last plane) or a window is clipped
      typedef uint16_t U16x8 __attribute__((vector_size(16)));
      typedef uint8_t V8 __attribute__((vector_size(8)));
      for (int oy = 0; oy < a.OH; ++oy) {
        uint8_t* o = out + size_t(oy) * a.OW;
        const uint8_t* p = in + size_t(oy) * a.sh * a.W;
        int ox = 0;
        if (oy < rows && p + size_t(a.kh - 1) * a.W + 18 <= safe) {
          V16 v = max16(max16(load16(p), load16(p + 1)), load16(p + 2));
          for (int y = 1; y < a.kh; ++y)
            v = max16(v, max16(max16(load16(p + y * a.W), load16(p + y * a.W + 1)), load16(p + y * a.W + 2)));
          U16x8 w;
          std::memcpy(&w, &v, 16);
          const V8 e = __builtin_convertvector(w, V8);
          if (end - o >= 8) std::memcpy(o, &e, 8);  // the bytes past cols are written after (below, or later rows)
          else std::memcpy(o, &e, size_t(cols));
          ox = cols;
        }
        for (; ox < a.OW; ++ox) o[ox] = clipped(a, in, oy, ox);
      }
      continue;
    }
    max_box3(in, n - 2, a.W, a.kh, h);
    for (int oy = 0; oy < a.OH; ++oy) {
      uint8_t* o = out + size_t(oy) * a.OW;
      int ox = 0;
      // byte picks: a vector load across h's fresh 16-byte stores would wait for them
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
  uint8_t row[kMaxW + 64];
  // zero past the row: max's identity for uint8, so in the stride-2 path below windows the right
  // edge clips come out as the reference's clipped ones, and every output is one vector lane
  if (a.W <= kMaxW) std::memset(row + a.W, 0, 64);
  const uint8_t* end = a.out + size_t(a.c1) * a.OH * a.OW;
  // 3-wide windows at stride 2 (SqueezeNet's pools on maps of 18 and wider): 16 outputs at a time
  // from even and odd bytes; read in place when no window is clipped by the right edge (which
  // would read the next row) and the reads stay in this call's input, else from `row`
  const bool stride2 = a.kw == 3 && a.sw == 2 && a.pad_left == 0 && 2 * a.OW <= a.W + 2;
  const bool in_place = stride2 && 2 * a.OW + 1 <= a.W;
  constexpr int kMaxRows = 4;
  const uint8_t* safe = a.in + size_t(a.c1) * a.H * a.W;
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
      uint8_t* o = out + size_t(oy) * a.OW;
      if (in_place && y1 - y0 <= kMaxRows) {
        // SqueezeNet's pools on odd maps: the input rows read where they are, no buffer between
        const uint8_t* r[kMaxRows];
        int nr = 0;
        for (int y = y0; y < y1; ++y) r[nr++] = in + size_t(y) * a.W;
        if (r[nr - 1] + 2 * a.OW + 34 <= safe) {  // the last rows of the call's last plane go below
          max3_stride2(r, nr, a.OW, o, end);
          continue;
        }
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
      int ox = 0;
      if (stride2) {
        const uint8_t* r = row;
        max3_stride2(&r, 1, a.OW, o, end);
        continue;
      }
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
