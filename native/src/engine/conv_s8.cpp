// int8 convolutions (QDQ files): uint8 activations x int8 weights, int32 accumulation, requantized
// per output channel in float as ONNX Runtime does, the ReLU as the lower clamp (kernels_s8.h),
// on the variant's int8 GEMM (L.s8). Two entries: 1x1 layers as one GEMM over the input planes (no
// copy), and every other shape over an im2col matrix padded with the input's zero point (int8 has
// no Winograd: its transforms would need wider intermediates). Outputs go straight to their Concat
// halves, as the float layers'.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "bluefire/onnx.h"
#include "engine/conv.h"

namespace bluefire {
namespace {

constexpr int kTileN = 256;  // pixels per task

bool single_pixel(const Layer& L) {
  return L.H == 1 && L.W == 1 && L.OH == 1 && L.OW == 1 && L.pt < L.kh && L.pl < L.kw;
}

bool pointwise(const Layer& L) {
  return single_pixel(L) ||
         (L.kh == 1 && L.kw == 1 && L.sh == 1 && L.sw == 1 && L.pt == 0 && L.pl == 0 && L.pb == 0 && L.pr == 0);
}

// Weights packed for L.s8, the input zero point folded into the bias, output scales; tiles.
void finish(Layer& L) {
  const int K = L.K;
  L.bias_s8.resize(size_t(L.M));
  L.oscale.resize(size_t(L.M));
  for (int m = 0; m < L.M; ++m) {
    int64_t wsum = 0;
    for (int k = 0; k < K; ++k) wsum += L.qweights[size_t(m) * K + k];
    const int64_t b = int64_t(L.qbias[m]) - int64_t(L.in_zp) * wsum;
    if (b < INT32_MIN / 2 || b > INT32_MAX / 2)
      throw ModelError("int8 convolution '" + L.name + "': bias out of the int32 accumulator's range");
    L.bias_s8[m] = int32_t(b);
    // in float, as ONNX Runtime's QLinearConv computes it (x_scale * w_scale / y_scale)
    const float mf = L.in_scale * L.wscale[m] / L.out_scale;
    if (!(mf > 0) || !std::isfinite(mf))
      throw ModelError("int8 convolution '" + L.name + "': output channel " + std::to_string(m) +
                       " has requantization scale " + std::to_string(mf) + "; expected positive and finite");
    L.oscale[m] = mf;
  }
  if (K > kMaxKS8)
    throw ModelError("int8 convolution '" + L.name + "': depth " + std::to_string(K) + " > " + std::to_string(kMaxKS8));
  L.packed_s8.resize(packed_size_s8(*L.s8, L.M, K));
  pack_s8(*L.s8, L.qweights.data(), L.M, K, L.packed_s8.data());
  L.qweights = std::vector<int8_t>();
  set_tiles(L, kTileM, kTileN, L.OH * L.OW);
}

// The GEMM of output rows [m0, m1) over columns [n0, n0 + N) of B (rows at b + brow[k] + n0),
// into c (row stride ldc).
void gemm(const Layer& L, int m0, int m1, const uint8_t* b, int n0, int N, bool overread, uint8_t* c, int ldc) {
  GemmU8Args g;
  g.M = m1 - m0, g.N = N, g.K = L.K;
  g.a = L.packed_s8.data() + packed_offset_s8(*L.s8, m0, L.K);
  g.b = b + n0;
  g.brow = L.brow.data();
  g.bias = L.bias_s8.data() + m0;
  g.scale = L.oscale.data() + m0;
  g.zc = L.out_zp, g.lo = L.relu ? L.out_zp : 0, g.hi = 255;
  g.c = c;
  g.ldc = ldc;
  g.b_overread = overread;
  L.s8->gemm(g);
}

// Task t over the output pixels, B's columns being the output pixels.
void gemm(const Layer& L, const ConvIO& io, int t, const uint8_t* b, bool overread) {
  const TaskTile tt = task_tile(L, t);
  const int N = L.OH * L.OW, n0 = tt.nt * L.nb, n1 = std::min(N, n0 + L.nb);
  gemm(L, tt.m0, tt.m1, b, n0, n1 - n0, overread, reinterpret_cast<uint8_t*>(io.out) + size_t(tt.m0) * N + n0, N);
}

bool pointwise_applies(const Layer& L, const KernelTable&) { return L.dtype == DType::U8 && pointwise(L); }

void pointwise_prepare(Layer& L, const KernelTable&, Workspace&) {
  if (single_pixel(L) && (L.kh > 1 || L.kw > 1)) {  // only the tap at (pt, pl) sees the pixel
    std::vector<int8_t> w(size_t(L.M) * L.C);
    for (int o = 0; o < L.M; ++o)
      for (int c = 0; c < L.C; ++c)
        w[size_t(o) * L.C + c] = L.qweights[((size_t(o) * L.C + c) * L.kh + L.pt) * L.kw + L.pl];
    L.qweights = std::move(w);
    L.K = L.C;
    L.kh = L.kw = 1, L.pt = L.pl = L.pb = L.pr = 0;
  }
  L.brow.resize(size_t(L.K));
  for (int i = 0; i < L.K; ++i) L.brow[i] = i * L.H * L.W;
  finish(L);
}

// The input planes are an arena tensor (an int8 conv reads what an earlier layer wrote), which
// keeps kS8Overread bytes after it (Tensor::floats): B's last partial block of pixels is loaded
// directly. Through a copy it was most of the time of a 1x1 layer on a 3x3 or 7x7 map.
void pointwise_run(const Layer& L, const ConvIO& io, int t) {
  gemm(L, io, t, reinterpret_cast<const uint8_t*>(io.in), true);
}

// Any kernel and stride: a copy of the input padded with its zero point, and B's columns are the
// pixels of a grid OH rows of PW wide over that copy: brow is all the matrix there is (no im2col:
// on the small maps of a 64x64 SqueezeNet the im2col's short row copies cost more than the GEMM).
// Stride 1: the padded planes (PH x PW), tap (c, ky, kx) of grid pixel (oy, ox) is padded byte
// ((c * PH + oy + ky) * PW + ox + kx). Stride sh x sw: each padded plane split into sh * sw phase
// planes (PH x PW each, now ceil(padded rows / sh) x ceil(padded columns / sw)), phase (py, px)
// holding padded pixels (py + sh * i, px + sw * j); tap (ky, kx) then reads phase
// (ky % sh, kx % sw) at (oy + ky / sh, ox + kx / sw), stride 1 again. Valid columns (ox < OW)
// never wrap into the next row; the PW - OW past each output row are computed and dropped: each
// task's GEMM writes to its thread's scratch, and the valid runs go to the output.
bool padded_applies(const Layer& L, const KernelTable&) { return L.dtype == DType::U8; }

size_t padded_plane(const Layer& L) { return size_t(L.PH) * L.PW; }

size_t padded_bytes(const Layer& L) {  // the planes, plus what the last rows' taps and the GEMM's overread reach
  return size_t(L.C) * L.sh * L.sw * padded_plane(L) + size_t(L.kw) + 16 + kS8Overread;
}

void padded_prepare(Layer& L, const KernelTable&, Workspace& ws) {
  L.PH = (L.H + L.pt + L.pb + L.sh - 1) / L.sh, L.PW = (L.W + L.pl + L.pr + L.sw - 1) / L.sw;
  L.brow.resize(size_t(L.K));
  for (int c = 0, i = 0; c < L.C; ++c)
    for (int ky = 0; ky < L.kh; ++ky)
      for (int kx = 0; kx < L.kw; ++kx) {
        const int phase = (c * L.sh + ky % L.sh) * L.sw + kx % L.sw;
        L.brow[i++] = (phase * L.PH + ky / L.sh) * L.PW + kx / L.sw;
      }
  ws.prepared = std::max(ws.prepared, (padded_bytes(L) + 3) / 4);
  ws.per_thread = std::max(ws.per_thread, size_t(kTileM) * kTileN / 4);
  finish(L);
  set_tiles(L, kTileM, kTileN, L.OH * L.PW);
}

void padded_input(const Layer& L, const KernelTable&, const float* in, float* prepared) {
  const uint8_t* x = reinterpret_cast<const uint8_t*>(in);
  uint8_t* p = reinterpret_cast<uint8_t*>(prepared);
  const uint8_t zx = uint8_t(L.in_zp);
  const size_t plane = padded_plane(L);
  if (L.sh == 1 && L.sw == 1 && L.pl + L.pr == 0 && L.pt + L.pb == 0) {
    std::memcpy(p, x, size_t(L.C) * plane);
  } else if (L.sh == 1 && L.sw == 1) {
    for (int c = 0; c < L.C; ++c) {
      uint8_t* d = p + size_t(c) * plane;
      const uint8_t* s = x + size_t(c) * L.H * L.W;
      // top padding and the first row's left padding; then each row, its right padding and the
      // next row's left padding in one run
      std::memset(d, zx, size_t(L.pt) * L.PW + L.pl);
      d += size_t(L.pt) * L.PW + L.pl;
      for (int y = 0; y < L.H; ++y, d += L.PW, s += L.W) {
        std::memcpy(d, s, size_t(L.W));
        std::memset(d + L.W, zx, size_t(L.pr + L.pl));
      }
      d -= L.pl;  // the last row's left-padding run went one row too far: it is the bottom padding's start
      std::memset(d, zx, size_t(L.pb) * L.PW);
    }
  } else {
    for (int c = 0; c < L.C; ++c)
      for (int py = 0; py < L.sh; ++py)
        for (int px = 0; px < L.sw; ++px) {
          uint8_t* d = p + size_t((c * L.sh + py) * L.sw + px) * plane;
          const uint8_t* s = x + size_t(c) * L.H * L.W;
          for (int i = 0; i < L.PH; ++i, d += L.PW) {
            const int y = py + L.sh * i - L.pt;
            if (y < 0 || y >= L.H) {
              std::memset(d, zx, size_t(L.PW));
              continue;
            }
            // columns j with px + sw * j - pl inside the row: [j0, j1); the zero point around them
            const uint8_t* r = s + size_t(y) * L.W + px - L.pl;
            const int j0 = std::min(L.PW, (std::max(0, L.pl - px) + L.sw - 1) / L.sw);
            const int last = L.W - 1 + L.pl - px;  // sw * (the last column inside), if >= 0
            const int j1 = last < 0 ? j0 : std::max(j0, std::min(L.PW, last / L.sw + 1));
            std::memset(d, zx, size_t(j0));
            if (L.sw == 2)  // a compile-time stride: GCC vectorises the gather (byte deinterleave)
              for (int j = j0; j < j1; ++j) d[j] = r[2 * j];
            else
              for (int j = j0; j < j1; ++j) d[j] = r[L.sw * j];
            std::memset(d + j1, zx, size_t(L.PW - j1));
          }
        }
  }
  const size_t used = size_t(L.C) * L.sh * L.sw * plane;
  std::memset(p + used, zx, padded_bytes(L) - used);
}

// memcpy for the short runs above (a row of a 3x3 to 31x31 map): whole chunks, the last one
// overlapping the one before, never a byte outside [dst, dst + n) (the next bytes may be another
// task's).
inline void copy_short(uint8_t* dst, const uint8_t* src, int n) {
  auto chunks = [&](auto chunk) {
    constexpr int w = int(sizeof(chunk));
    for (int i = 0; i + w <= n; i += w) {
      std::memcpy(&chunk, src + i, w);
      std::memcpy(dst + i, &chunk, w);
    }
    std::memcpy(&chunk, src + n - w, w);
    std::memcpy(dst + n - w, &chunk, w);
  };
  struct B16 {
    uint64_t a, b;
  };
  if (n >= 16) chunks(B16{});
  else if (n >= 8) chunks(uint64_t{});
  else if (n >= 4) chunks(uint32_t{});
  else
    for (int i = 0; i < n; ++i) dst[i] = src[i];
}

void padded_run(const Layer& L, const ConvIO& io, int t) {
  const TaskTile tt = task_tile(L, t);
  const int G = L.OH * L.PW, n0 = tt.nt * L.nb, n1 = std::min(G, n0 + L.nb), N = n1 - n0;
  uint8_t* tmp = reinterpret_cast<uint8_t*>(io.work);
  gemm(L, tt.m0, tt.m1, reinterpret_cast<const uint8_t*>(io.prepared), n0, N, true, tmp, N);
  const size_t plane = size_t(L.OH) * L.OW;
  uint8_t* out = reinterpret_cast<uint8_t*>(io.out) + size_t(tt.m0) * plane;
  for (int n = n0; n < n1;) {  // one run per grid row in the tile: its columns below OW
    const int oy = n / L.PW, ox = n - oy * L.PW, end = std::min(n1, (oy + 1) * L.PW);
    const int len = std::min(L.OW, end - oy * L.PW) - ox;
    if (len > 0)
      for (int m = 0; m < tt.m1 - tt.m0; ++m)
        copy_short(out + m * plane + size_t(oy) * L.OW + ox, tmp + size_t(m) * N + (n - n0), len);
    n = end;
  }
}

bool im2col_applies(const Layer& L, const KernelTable&) { return L.dtype == DType::U8; }

// The matrix's rows are padded to a multiple of 16 bytes plus kS8Overread, so the GEMM loads its
// last partial block of pixels directly.
size_t im2col_ld(const Layer& L) { return (size_t(L.OH) * L.OW + 15) / 16 * 16 + kS8Overread; }

void im2col_prepare(Layer& L, const KernelTable&, Workspace& ws) {
  const size_t ld = im2col_ld(L);
  L.brow.resize(size_t(L.K));
  for (int i = 0; i < L.K; ++i) L.brow[i] = int(i * ld);
  ws.prepared = std::max(ws.prepared, (size_t(L.K) * ld + 3) / 4);  // bytes, in floats
  finish(L);
}

// Row (c, ky, kx) of the matrix: input pixel (oy * sh + ky - pt, ox * sw + kx - pl), the zero
// point where that is padding.
void im2col_input(const Layer& L, const KernelTable&, const float* in, float* prepared) {
  const uint8_t* x = reinterpret_cast<const uint8_t*>(in);
  uint8_t* p = reinterpret_cast<uint8_t*>(prepared);
  const uint8_t zx = uint8_t(L.in_zp);
  for (int c = 0; c < L.C; ++c)
    for (int ky = 0; ky < L.kh; ++ky)
      for (int kx = 0; kx < L.kw; ++kx) {
        uint8_t* row = p + size_t((c * L.kh + ky) * L.kw + kx) * im2col_ld(L);
        for (int oy = 0; oy < L.OH; ++oy) {
          const int iy = oy * L.sh + ky - L.pt;
          uint8_t* d = row + size_t(oy) * L.OW;
          if (iy < 0 || iy >= L.H) {
            std::memset(d, zx, size_t(L.OW));
            continue;
          }
          const uint8_t* s = x + (size_t(c) * L.H + iy) * L.W;
          // output columns whose input column ox * sw + kx - pl is inside the row: [x0, x1)
          const int x0 = std::min(L.OW, std::max(0, (L.pl - kx + L.sw - 1) / L.sw));
          const int last = L.W - 1 + L.pl - kx;  // sw * (the last output column inside), if >= 0
          const int x1 = last < 0 ? x0 : std::max(x0, std::min(L.OW, last / L.sw + 1));
          std::memset(d, zx, size_t(x0));
          if (L.sw == 1) std::memcpy(d + x0, s + x0 + kx - L.pl, size_t(x1 - x0));
          else
            for (int ox = x0; ox < x1; ++ox) d[ox] = s[ox * L.sw + kx - L.pl];
          std::memset(d + x1, zx, size_t(L.OW - x1));
        }
      }
}

void im2col_run(const Layer& L, const ConvIO& io, int t) {
  gemm(L, io, t, reinterpret_cast<const uint8_t*>(io.prepared), true);
}

}  // namespace

const ConvAlgo kConvPointwiseS8 = {"pointwise_s8", pointwise_applies, pointwise_prepare,
                                   nullptr,        pointwise_run,     nullptr};
const ConvAlgo kConvPaddedS8 = {"padded_s8", padded_applies, padded_prepare, padded_input, padded_run, nullptr};
const ConvAlgo kConvIm2colS8 = {"im2col_s8", im2col_applies, im2col_prepare, im2col_input, im2col_run, nullptr};

}  // namespace bluefire
