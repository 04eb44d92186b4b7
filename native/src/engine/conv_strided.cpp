// Strided convolutions (the stems) as one GEMM over kw * sh shifted planes per input channel:
// plane (c, kx, py) row yy, column ox holds padded pixel (py + sh * yy, sw * ox + kx), so tap
// (ky, kx) of output pixel n = oy * OW + ox is plane (c, kx, ky % sh) at n + (ky / sh) * OW. Every B
// row is contiguous over all output pixels and the GEMM runs over whole 32-pixel blocks across
// output rows, as for a 1x1 convolution (kw * sh planes instead of im2col's kh * kw). Stride-2
// planes are written by the variant's stride2_columns.
#include "engine/conv.h"

namespace bluefire {
namespace {

constexpr int kTileN = 256;  // pixels per tile

bool applies(const Layer& L, const KernelTable&) { return L.dtype == DType::F32 && (L.sh > 1 || L.sw > 1); }

void prepare(Layer& L, const KernelTable& k, Workspace& ws) {
  const int N = L.OH * L.OW;
  pack_for_gemm(L, k, N <= kNarrowN);
  L.PH = L.H + L.pt + L.pb, L.PW = L.W + L.pl + L.pr;
  L.RY = L.OH + (L.kh - 1) / L.sh;
  set_tiles(L, kTileM, kTileN, N);
  split_channels(L, L.narrow ? k.narrow_mr : k.mr, ws.threads, kPixelBlock);
  L.brow.resize(size_t(L.K));
  for (int c = 0, i = 0; c < L.C; ++c)
    for (int ky = 0; ky < L.kh; ++ky)
      for (int kx = 0; kx < L.kw; ++kx) L.brow[i++] = (((c * L.kw + kx) * L.sh + ky % L.sh) * L.RY + ky / L.sh) * L.OW;
  ws.prepared = std::max(ws.prepared, size_t(L.C) * L.kw * L.sh * L.RY * L.OW);
  ws.per_thread = std::max(ws.per_thread, size_t(L.C) * L.kw * L.sh * L.RY * L.OW);  // a band's rows (rows)
}

// Plane rows [ya, yb) of the shifted planes of channels [c0, c1), zero where they read padding:
// plane q's row yy at p + q * plane + (yy - ya) * OW.
void write_planes(const Layer& L, const KernelTable& k, const float* in, float* p, size_t plane, int ya, int yb, int c0,
                  int c1) {
  const int s = L.sw;
  for (int c = c0; c < c1; ++c)
    for (int kx = 0; kx < L.kw; ++kx)
      for (int py = 0; py < L.sh; ++py) {
        float* dst = p + size_t((c * L.kw + kx) * L.sh + py) * plane;  // row ya
        const int off = kx - L.pl;  // input column of output column ox is s * ox + off
        const int j0 = std::min(L.OW, std::max(0, (s - 1 - off) / s));
        const int j1 = L.W - 1 - off < 0 ? j0 : std::max(j0, std::min(L.OW, (L.W - 1 - off) / s + 1));
        // Plane rows yy in [y0, y1) read input rows iy = py + sh * yy - pt inside the map.
        int y0 = std::min(L.RY, std::max(0, (L.pt - py + L.sh - 1) / L.sh));
        const int last = L.H - 1 + L.pt - py;  // sh * (last plane row inside the map), if >= 0
        int y1 = last < 0 ? y0 : std::max(y0, std::min(L.RY, last / L.sh + 1));
        y0 = std::min(std::max(y0, ya), yb), y1 = std::max(y0, std::min(y1, yb));
        std::fill(dst, dst + size_t(y0 - ya) * L.OW, 0.f);
        std::fill(dst + size_t(y1 - ya) * L.OW, dst + size_t(yb - ya) * L.OW, 0.f);
        for (int yy = y0; yy < y1; ++yy) {
          float* d = dst + size_t(yy - ya) * L.OW;
          std::fill(d, d + j0, 0.f);
          std::fill(d + j1, d + L.OW, 0.f);
        }
        if (y1 == y0 || j1 == j0) continue;
        const float* src = in + (size_t(c) * L.H + py + L.sh * y0 - L.pt) * L.W + s * j0 + off;
        float* d0 = dst + size_t(y0 - ya) * L.OW + j0;
        if (s == 2)  // the stems: the variant's stride-2 copy over all the rows at once
          k.stride2_columns(src, ptrdiff_t(L.sh) * L.W, y1 - y0, j1 - j0, d0, L.OW);
        else
          for (int yy = 0; yy < y1 - y0; ++yy)
            for (int j = 0; j < j1 - j0; ++j) d0[size_t(yy) * L.OW + j] = src[size_t(yy) * L.sh * L.W + size_t(j) * s];
      }
}

// The whole planes, once per image (a layer without a fused pool).
void prepare_channels(const Layer& L, const KernelTable& k, const float* in, float* p, int c0, int c1) {
  write_planes(L, k, in, p, size_t(L.RY) * L.OW, 0, L.RY, c0, c1);
}

void run(const Layer& L, const ConvIO& io, int t) { run_pixel_tile(L, io, t, io.prepared); }

// A band's conv rows are one run of pixels of the planes: one GEMM. The band writes the plane rows
// it reads into this thread's scratch (at the whole planes' stride, so `brow` serves both), not
// the whole planes once per image: those (1.5x the input) would be written and read back from
// memory, the band's stay in L2.
void rows(const Layer& L, const ConvIO& io, int r0, int r1, int m0, int m1, float* dst) {
  write_planes(L, io.k, io.in, io.work, size_t(L.RY) * L.OW, r0, r1 + (L.kh - 1) / L.sh, 0, L.C);
  GemmArgs g = gemm_args(L, m0, m1);
  g.N = (r1 - r0) * L.OW;
  g.ldc = g.N;
  g.b = io.work;
  g.c = dst;
  io.k.gemm(g);
}

void prepare_input(const Layer& L, const KernelTable& k, const float* in, float* p) {
  prepare_channels(L, k, in, p, 0, L.C);
}

}  // namespace

const ConvAlgo kConvStrided = {"strided", applies, prepare, prepare_input, run, rows, prepare_channels};

}  // namespace bluefire
