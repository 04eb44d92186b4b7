// Any convolution the entries before it do not take (stride 1 on narrow maps, kernels other than
// 3x3): im2col of kTileN output pixels per task into the thread's scratch, then one GEMM.
#include "engine/conv.h"

namespace bluefire {
namespace {

constexpr int kTileN = 128;  // pixels per task (K x 128 scratch)

bool applies(const Layer& L, const KernelTable&) { return L.dtype == DType::F32; }

void prepare(Layer& L, const KernelTable& k, Workspace& ws) {
  const int N = L.OH * L.OW;
  pack_for_gemm(L, k, N <= kNarrowN);
  set_tiles(L, kTileM, kTileN, N);
  split_channels(L, L.narrow ? k.narrow_mr : k.mr, ws.threads);
  L.brow.resize(size_t(L.K));
  for (int i = 0; i < L.K; ++i) L.brow[i] = i * L.nb;
  ws.per_thread = std::max(ws.per_thread, size_t(L.K) * L.nb);
}

void im2col(const Layer& L, const ConvIO& io, int n0, int n1) {
  io.k.im2col({io.in, L.C, L.H, L.W, L.kh, L.kw, L.sh, L.sw, L.pt, L.pl, L.OH, L.OW, n0, n1, L.nb, io.work});
}

void run(const Layer& L, const ConvIO& io, int t) {
  const TaskTile tt = task_tile(L, t);
  const int N = L.OH * L.OW, n0 = tt.nt * L.nb, n1 = std::min(N, n0 + L.nb);
  im2col(L, io, n0, n1);
  GemmArgs g = gemm_args(L, tt.m0, tt.m1);
  g.N = n1 - n0;
  g.b = io.work;
  g.c = io.out + size_t(tt.m0) * N + n0;
  gemm_of(L, io.k)(g);
}

void rows(const Layer& L, const ConvIO& io, int r0, int r1, int m0, int m1, float* dst) {
  const int base = r0 * L.OW, N = (r1 - r0) * L.OW;
  GemmArgs g = gemm_args(L, m0, m1);
  g.ldc = N;
  g.b = io.work;
  for (int n0 = base; n0 < base + N; n0 += L.nb) {
    const int n1 = std::min(base + N, n0 + L.nb);
    im2col(L, io, n0, n1);
    g.N = n1 - n0;
    g.c = dst + (n0 - base);
    io.k.gemm(g);
  }
}

}  // namespace

const ConvAlgo kConvIm2col = {"im2col", applies, prepare, nullptr, run, rows};

}  // namespace bluefire
