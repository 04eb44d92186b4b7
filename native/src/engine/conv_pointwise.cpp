// 1x1 stride-1 convolutions (squeeze, expand1x1, classifier) as one GEMM over the input planes,
// and any convolution of a 1x1 map to a 1x1 output (fire6-9 at 32x32 input), where only the tap
// at (pad_top, pad_left) sees a pixel: the weights keep that tap alone and the layer becomes a 1x1.
#include "engine/conv.h"

namespace bluefire {
namespace {

constexpr int kTileN = 256;  // pixels per tile

bool single_pixel(const Layer& L) {
  return L.H == 1 && L.W == 1 && L.OH == 1 && L.OW == 1 && L.pt < L.kh && L.pl < L.kw;
}

bool applies(const Layer& L, const KernelTable&) {
  return L.dtype == DType::F32 && (single_pixel(L) || (L.kh == 1 && L.kw == 1 && L.sh == 1 && L.sw == 1 && L.pt == 0 &&
                                                       L.pl == 0 && L.pb == 0 && L.pr == 0));
}

void prepare(Layer& L, const KernelTable& k, Workspace& ws) {
  if (single_pixel(L) && (L.kh > 1 || L.kw > 1)) {
    std::vector<float> w(size_t(L.M) * L.C);
    for (int o = 0; o < L.M; ++o)
      for (int c = 0; c < L.C; ++c)
        w[size_t(o) * L.C + c] = L.weights[((size_t(o) * L.C + c) * L.kh + L.pt) * L.kw + L.pl];
    L.weights = std::move(w);
    L.K = L.C;
    L.kh = L.kw = 1, L.pt = L.pl = L.pb = L.pr = 0;
  }
  const int N = L.OH * L.OW;
  pack_for_gemm(L, k, N <= kNarrowN);
  set_tiles(L, kTileM, kTileN, N);
  L.brow.resize(size_t(L.K));
  for (int i = 0; i < L.K; ++i) L.brow[i] = i * L.H * L.W;
  if (L.n_tiles == 1 && !L.narrow) {
    // One pixel tile (the classifier): a quarter of the rows per tile, so each of up to four
    // threads has one, and the GEMM packs each strip of B 4 times rather than M/96 times.
    set_tiles(L, std::max(kTileM, (L.M / 4 + kTileM - 1) / kTileM * kTileM), kTileN, N);
  }
  split_channels(L, L.narrow ? k.narrow_mr : k.mr, ws.threads, kPixelBlock);
}

void run(const Layer& L, const ConvIO& io, int t) { run_pixel_tile(L, io, t, io.in); }

}  // namespace

const ConvAlgo kConvPointwise = {"pointwise", applies, prepare, nullptr, run, nullptr};

}  // namespace bluefire
