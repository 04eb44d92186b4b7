// 3x3 stride-1 pad-1 convolutions on small square maps (fire4-9 at 32-64 px input), no GEMM:
// * F(4x4) vectorised over channels (KernelTable::conv3x3_winograd4_channels, maps
//   winograd4_channels_min..max): one SIMD vector of channels per register instead of tiles;
// * the direct small-map kernel (KernelTable::conv3x3_small, maps 2..conv3x3_small_max), which
//   skips the padding taps at compile time.
// The ranges may overlap (AVX-512: the channel-vectorised kernel is listed first and wins) or
// leave a gap (NEON: 6 takes Winograd F(2x2)).
#include <stdexcept>

#include "engine/conv.h"

namespace bluefire {
namespace {

// Output channels per task of the channel-vectorised F(4x4): each task transforms the whole input
// once, so it gets up to 128 (8 panels: fire4-5's expand3x3 in one task). A multiple of every
// winograd4_channels_mr (4, 16).
constexpr int kTileMChannels = 128;

bool small_square(const Layer& L) { return L.dtype == DType::F32 && is_3x3_s1_p1(L) && L.H == L.W; }

bool winograd4_channels_applies(const Layer& L, const KernelTable& k) {
  return small_square(L) && k.conv3x3_winograd4_channels && L.H >= k.winograd4_channels_min &&
         L.H <= k.winograd4_channels_max;
}

void winograd4_channels_prepare(Layer& L, const KernelTable& k, Workspace& ws) {
  const int mr = k.winograd4_channels_mr;
  if (kTileMChannels % mr != 0) throw std::logic_error("conv3x3_winograd4_channels tasks must start at a weight panel");
  L.packed.resize(winograd4_channels_packed_size(L.M, L.C, mr));
  pack_winograd4_channels_weights(L.weights.data(), L.M, L.C, mr, L.packed.data());
  // With 2+ threads, cut by channel panels too: each task then transforms the whole input again,
  // a small part of the layer (native/README.md, Threads), so a loss on one thread (which never
  // cuts) and a gain as soon as a second core takes part of the products.
  set_tiles(L, kTileMChannels, L.OH * L.OW, L.OH * L.OW);
  split_channels(L, mr, ws.threads);
  ws.per_thread = std::max(ws.per_thread, k.winograd4_channels_scratch(L.H, L.C));
}

void winograd4_channels_run(const Layer& L, const ConvIO& io, int t) {
  const TaskTile tt = task_tile(L, t);
  Conv3x3SmallArgs s{io.in,
                     L.C,
                     L.H,
                     L.W,
                     tt.m1 - tt.m0,
                     L.packed.data() + size_t(tt.m0) * 36 * L.C,
                     L.bias.data() + tt.m0,
                     io.out + size_t(tt.m0) * L.OH * L.OW,
                     L.relu};
  s.scratch = io.work;
  io.k.conv3x3_winograd4_channels(s);
}

bool direct_applies(const Layer& L, const KernelTable& k) {
  return small_square(L) && k.conv3x3_small && L.H >= 2 && L.H <= k.conv3x3_small_max;
}

void direct_prepare(Layer& L, const KernelTable& k, Workspace& ws) {
  L.packed.resize(packed_size(L.M, L.K, k.conv3x3_small_mr));
  pack_weights(L.weights.data(), L.M, L.K, k.conv3x3_small_mr, L.packed.data());
  set_tiles(L, kTileM, L.OH * L.OW, L.OH * L.OW);
  split_channels(L, k.conv3x3_small_mr, ws.threads);
}

void direct_run(const Layer& L, const ConvIO& io, int t) {
  const TaskTile tt = task_tile(L, t);
  io.k.conv3x3_small({io.in, L.C, L.H, L.W, tt.m1 - tt.m0, L.packed.data() + size_t(tt.m0) * L.K, L.bias.data() + tt.m0,
                      io.out + size_t(tt.m0) * L.OH * L.OW, L.relu});
}

}  // namespace

const ConvAlgo kConvWinograd4Channels = {"winograd4_channels",       winograd4_channels_applies,
                                         winograd4_channels_prepare, nullptr,
                                         winograd4_channels_run,     nullptr};
const ConvAlgo kConvSmallDirect = {"small_direct", direct_applies, direct_prepare, nullptr, direct_run, nullptr};

}  // namespace bluefire
