// Stride-1 convolutions with output rows at least kMinWidth wide (the reference's 3x3 layers):
// a zero-padded copy of the input, and tap (ky, kx) of output row oy is the run of OW floats at
// padded row oy + ky, column kx (brow), so each GEMM call is one output row: no im2col.
#include <cstring>

#include "engine/conv.h"

namespace bluefire {

void copy_padded(const Layer& L, const float* in, float* p, int c0, int c1) {
  for (int c = c0; c < (c1 < 0 ? L.C : c1); ++c) {
    const float* src = in + size_t(c) * L.H * L.W;
    float* dst = p + size_t(c) * L.PH * L.PW;
    std::fill(dst, dst + size_t(L.pt) * L.PW, 0.f);
    dst += size_t(L.pt) * L.PW;
    for (int y = 0; y < L.H; ++y, dst += L.PW, src += L.W) {
      std::fill(dst, dst + L.pl, 0.f);
      std::memcpy(dst + L.pl, src, size_t(L.W) * sizeof(float));
      std::fill(dst + L.pl + L.W, dst + L.PW, 0.f);
    }
    std::fill(dst, dst + size_t(L.PH - L.pt - L.H) * L.PW, 0.f);
  }
}

namespace {

constexpr int kMinWidth = 20;  // narrower maps fill SIMD rows better via im2col
constexpr int kTileRows = 4;   // output rows per task

bool applies(const Layer& L, const KernelTable&) {
  return L.dtype == DType::F32 && L.sh == 1 && L.sw == 1 && L.OW >= kMinWidth;
}

void prepare(Layer& L, const KernelTable& k, Workspace& ws) {
  pack_for_gemm(L, k, false);
  L.PH = L.H + L.pt + L.pb, L.PW = L.W + L.pl + L.pr;
  L.QW = L.PW;
  set_tiles(L, kTileM, kTileRows, L.OH);
  split_channels(L, L.narrow ? k.narrow_mr : k.mr, ws.threads);
  L.brow.resize(size_t(L.K));
  for (int c = 0, i = 0; c < L.C; ++c)
    for (int ky = 0; ky < L.kh; ++ky)
      for (int kx = 0; kx < L.kw; ++kx) L.brow[i++] = (c * L.PH + ky) * L.PW + kx;
  ws.prepared = std::max(ws.prepared, size_t(L.C) * L.PH * L.PW);
}

// One pass, before the tasks run.
void prepare_input(const Layer& L, const KernelTable&, const float* in, float* p) { copy_padded(L, in, p); }
void prepare_channels(const Layer& L, const KernelTable&, const float* in, float* p, int c0, int c1) {
  copy_padded(L, in, p, c0, c1);
}

// A task's "columns" are output rows.
void run(const Layer& L, const ConvIO& io, int t) {
  const TaskTile tt = task_tile(L, t);
  const int r0 = tt.nt * L.nb, r1 = std::min(L.OH, r0 + L.nb);
  GemmArgs g = gemm_args(L, tt.m0, tt.m1);
  g.N = L.OW;
  for (int oy = r0; oy < r1; ++oy) {
    g.b = io.prepared + size_t(oy) * L.PW;
    g.c = io.out + size_t(tt.m0) * L.OH * L.OW + size_t(oy) * L.OW;
    io.k.gemm(g);
  }
}

}  // namespace

const ConvAlgo kConvPadded = {"padded", applies, prepare, prepare_input, run, nullptr, prepare_channels};

}  // namespace bluefire
