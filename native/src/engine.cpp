// Graph -> layer list. Conv+Relu are fused; a Concat's inputs are placed at their channel offset
// inside the Concat's buffer, so each Fire expand writes straight into its half; Reshape, Flatten,
// Identity and Dropout are views; a strided conv read only by a max-pool runs fused with it in row
// bands. Each conv picks one formulation (ConvMode: a 1x1 GEMM, shifted planes for strided convs,
// Winograd F(2x2) or F(4x4), the small-map direct kernel, a padded copy or im2col), weights are
// packed for the variant once, and activations share arena space by lifetime. Tiles depend on
// layer shapes only, never on the thread count, and each output is computed by one tile, so
// results are identical with 1-4 threads. See native/README.md.
#include "bluefire/engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>

#include "bluefire/kernels.h"
#include "bluefire/registry.h"
#include "bluefire/thread_pool.h"
#include "bluefire/winograd.h"

namespace bluefire {
namespace {

constexpr int kMaxThreads = 4;
constexpr int kTileMWsmall = 128;  // output channels per task of conv3x3_wsmall (a multiple of every wsmall_mr: 4, 16)
constexpr int kTileM = 96;        // rows per GEMM tile: a multiple of every variant's mr (4, 6, 8, 16)
constexpr int kTileNDirect = 256; // pixels per tile of a 1x1 convolution
constexpr int kTileNIm2col = 128; // pixels per tile of an im2col convolution (K x 128 scratch)
constexpr int kTileRows = 4;      // output rows per tile of a padded direct convolution
// Stride-1 convolutions with output rows at least this wide read a zero-padded copy of their
// input through per-tap row offsets (no im2col); narrower maps fill SIMD rows better via im2col.
constexpr int kDirectMinWidth = 20;
constexpr int kWinogradTiles = 64;    // 2x2 output tiles per Winograd task
constexpr size_t kBandFloats = 128 * 1024;  // per-thread band of a convolution fused with its pool
constexpr int kWinogradMinWidth = 3;  // on 2x2 maps most of each 2x2 tile is padding
constexpr int kWinograd4Tiles = 32;   // 4x4 output tiles per F(4x4, 3x3) task
constexpr int kPoolChannels = 16;
constexpr size_t kAlign = 16;     // floats (64 bytes)

struct Tensor {
  int C = 0, H = 0, W = 0;
  std::vector<int64_t> shape;  // per-image shape as the graph sees it (rank-1 without batch)
  int parent = -1;             // -1: owns its storage; else lives inside `parent` at channel `coff`
  int coff = 0;
  size_t offset = 0;           // into the arena, for roots other than the input
  size_t size() const { return size_t(C) * H * W; }
};

enum class Kind { Conv, MaxPool, Mean, Relu, Softmax };
enum class ConvMode { Pointwise, Padded, Im2col, Winograd, Small, Strided };

struct Layer {
  Kind kind;
  std::string name;
  int in = -1, out = -1;
  int C = 0, H = 0, W = 0, OH = 0, OW = 0;
  int kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0;
  // Conv
  int M = 0, K = 0;
  bool relu = false;
  bool narrow = false;                 // GEMM calls of at most kNarrowN columns: gemm_narrow
  ConvMode mode = ConvMode::Pointwise;
  int pb = 0, pr = 0, PH = 0, PW = 0;  // bottom/right padding; padded input size (Padded mode)
  int phases = 1;                      // Winograd F(4x4): the padded input is split into 4 column
  int QW = 0;                          //   phases, each QW wide (1 and PW otherwise)
  int RY = 0;                          // Strided: rows of each shifted plane
  int wm = 2;                          // Winograd: output tile side, F(2x2, 3x3) or F(4x4, 3x3)
  bool wsmall = false;                 // Small: F(4x4) vectorised over channels (conv3x3_wsmall)
  std::vector<float> packed, bias;
  std::vector<int> brow;               // B row offsets, see GemmArgs
  int TX = 0, T = 0;                   // Winograd: tiles per row, tiles in all
  size_t upanel = 0;                   // Winograd: floats per packed transformed-weight matrix
  std::vector<float> zeros;            // Winograd: the GEMMs' (zero) bias
  int pool = -1;                       // index of a MaxPool fused into this conv (row bands)
  int pool_rows = 0;                   // pooled rows per band
  bool fused = false;                  // a MaxPool that its producer runs
  int mb = 0, nb = 0, m_tiles = 0, n_tiles = 0;
  int tasks() const {
    switch (kind) {
      case Kind::Conv: return m_tiles * n_tiles;
      case Kind::MaxPool: return (C + kPoolChannels - 1) / kPoolChannels;
      default: return 1;
    }
  }
};

std::string where(const OnnxModel& m, const OnnxNode& n) {
  return m.source + ": node '" + (n.name.empty() ? n.outputs.empty() ? "?" : n.outputs[0] : n.name) + "' (" +
         n.op_type + ")";
}

}  // namespace

struct Engine::Impl {
  std::string source;
  const Variant* variant = nullptr;
  std::map<std::string, std::string> metadata;
  std::vector<Tensor> tensors;
  std::vector<Layer> layers;
  int input = -1, output = -1;
  std::vector<int64_t> out_shape;
  std::vector<float> arena;
  std::vector<float> scratch;  // im2col columns, one slice per thread
  size_t scratch_per_thread = 0;
  std::vector<float> padded;   // zero-padded input of the current Padded/Winograd convolution
  std::vector<float> wino;     // Winograd transformed inputs and products, one slice per thread
  size_t wino_per_thread = 0;
  std::vector<float> band;     // conv rows of a conv+pool band, one slice per thread
  size_t band_per_thread = 0;
  std::vector<float*> ptr;     // per tensor, refreshed for each image
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Preprocessor> prep;
  std::vector<float> prep_buf;
  std::mutex run_mu;
  int64_t macs = 0;
  const Layer* current = nullptr;

  void build(const OnnxModel& m);
  void resolve(const float* in);
  void run_one(const float* in, float* out);
  void run_layer(const Layer& L);
  void fuse_pools();
  void conv_pool_band(const Layer& L, int band, int thread);
  void pad_input(const Layer& L);
  static void task(void* self, int t, int thread);
};

void Engine::Impl::build(const OnnxModel& m) {
  source = m.source;
  metadata = m.metadata;
  std::map<std::string, int> ids;
  std::map<std::string, int> consumers;
  size_t padded_size = 0;
  for (const auto& n : m.nodes)
    for (const auto& i : n.inputs) ++consumers[i];
  for (const auto& o : m.outputs) ++consumers[o.name];
  std::vector<int> producer;  // layer index that writes each tensor, -1 for none

  auto new_tensor = [&](const std::string& name, int C, int H, int W) {
    Tensor t;
    t.C = C, t.H = H, t.W = W;
    t.shape = {C, H, W};
    tensors.push_back(t);
    producer.push_back(-1);
    ids[name] = int(tensors.size()) - 1;
    return int(tensors.size()) - 1;
  };
  auto tensor_of = [&](const OnnxModel& mm, const OnnxNode& n, size_t i) {
    if (i >= n.inputs.size() || n.inputs[i].empty()) throw ModelError(where(mm, n) + ": missing input " + std::to_string(i));
    auto it = ids.find(n.inputs[i]);
    if (it == ids.end())
      throw ModelError(where(mm, n) + ": input '" + n.inputs[i] + "' is not computed before it (or is a constant)");
    return it->second;
  };
  auto init_of = [&](const OnnxNode& n, size_t i) -> const OnnxTensor* {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return nullptr;
    auto it = m.initializers.find(n.inputs[i]);
    if (it == m.initializers.end()) throw ModelError(where(m, n) + ": input '" + n.inputs[i] + "' must be an initializer");
    return &it->second;
  };

  // The one image input.
  for (const auto& vi : m.inputs) {
    if (m.initializers.count(vi.name)) continue;
    if (input >= 0) throw ModelError(m.source + ": the graph has more than one input");
    if (vi.elem_type != 1) throw ModelError(m.source + ": input '" + vi.name + "' must be float32");
    if (vi.dims.size() != 4 || vi.dims[1] < 1 || vi.dims[2] < 1 || vi.dims[3] < 1)
      throw ModelError(m.source + ": input '" + vi.name + "' must be [batch, C, H, W] with static C, H, W");
    input = new_tensor(vi.name, int(vi.dims[1]), int(vi.dims[2]), int(vi.dims[3]));
  }
  if (input < 0) throw ModelError(m.source + ": the graph has no input");

  for (const auto& n : m.nodes) {
    const std::string& op = n.op_type;
    if (!n.domain.empty() && n.domain != "ai.onnx")
      throw ModelError(where(m, n) + ": operator domain '" + n.domain + "' is not supported");
    if (n.outputs.size() < 1) throw ModelError(where(m, n) + ": no output");
    if (op == "Conv") {
      int x = tensor_of(m, n, 0);
      const OnnxTensor* w = init_of(n, 1);
      const OnnxTensor* b = n.inputs.size() > 2 ? init_of(n, 2) : nullptr;
      if (!w || w->data_type != 1 || w->dims.size() != 4)
        throw ModelError(where(m, n) + ": weight must be a float32 [M, C, kh, kw] initializer");
      const Tensor& tx = tensors[x];
      if (n.attr_int("group", 1) != 1) throw ModelError(where(m, n) + ": grouped convolution is not supported");
      for (int64_t d : n.attr_ints("dilations"))
        if (d != 1) throw ModelError(where(m, n) + ": dilation other than 1 is not supported");
      std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
      if (auto_pad != "NOTSET" && auto_pad != "VALID")
        throw ModelError(where(m, n) + ": auto_pad '" + auto_pad + "' is not supported");
      Layer L;
      L.kind = Kind::Conv;
      L.name = n.name;
      L.M = int(w->dims[0]);
      L.C = tx.C, L.H = tx.H, L.W = tx.W;
      L.kh = int(w->dims[2]), L.kw = int(w->dims[3]);
      if (w->dims[1] != tx.C)
        throw ModelError(where(m, n) + ": weight '" + w->name + "' expects " + std::to_string(w->dims[1]) +
                         " input channels, its input has " + std::to_string(tx.C));
      auto ks = n.attr_ints("kernel_shape");
      if (!ks.empty() && (ks.size() != 2 || ks[0] != L.kh || ks[1] != L.kw))
        throw ModelError(where(m, n) + ": kernel_shape disagrees with the weight's shape");
      auto st = n.attr_ints("strides");
      if (!st.empty()) {
        if (st.size() != 2 || st[0] < 1 || st[1] < 1) throw ModelError(where(m, n) + ": bad strides");
        L.sh = int(st[0]), L.sw = int(st[1]);
      }
      int& pb = L.pb;
      int& pr = L.pr;
      auto pads = n.attr_ints("pads");
      if (!pads.empty() && auto_pad == "NOTSET") {
        if (pads.size() != 4) throw ModelError(where(m, n) + ": pads must have 4 values");
        for (int64_t p : pads)
          if (p < 0 || p >= 64) throw ModelError(where(m, n) + ": bad pads");
        L.pt = int(pads[0]), L.pl = int(pads[1]), pb = int(pads[2]), pr = int(pads[3]);
      }
      L.OH = (L.H + L.pt + pb - L.kh) / L.sh + 1;
      L.OW = (L.W + L.pl + pr - L.kw) / L.sw + 1;
      if (L.H + L.pt + pb < L.kh || L.W + L.pl + pr < L.kw || L.OH < 1 || L.OW < 1)
        throw ModelError(where(m, n) + ": the kernel is larger than its padded " + std::to_string(L.H) + "x" +
                         std::to_string(L.W) + " input");
      if (b && (b->data_type != 1 || b->numel() != L.M))
        throw ModelError(where(m, n) + ": bias must be float32 with " + std::to_string(L.M) + " values");
      L.bias = b ? b->floats : std::vector<float>(size_t(L.M), 0.f);  // a missing bias is zeros (ONNX spec)
      // Weights as an M x K matrix. On a 1x1 map with a 1x1 output (fire6-9 at 32x32 input) only
      // the tap at (pad_top, pad_left) sees a pixel: keep just that column and skip im2col.
      std::vector<float> wm;
      const bool single_pixel = L.H == 1 && L.W == 1 && L.OH == 1 && L.OW == 1 && L.pt < L.kh && L.pl < L.kw;
      if (single_pixel && (L.kh > 1 || L.kw > 1)) {
        L.K = L.C;
        wm.resize(size_t(L.M) * L.K);
        for (int o = 0; o < L.M; ++o)
          for (int c = 0; c < L.C; ++c)
            wm[size_t(o) * L.K + c] = w->floats[((size_t(o) * L.C + c) * L.kh + L.pt) * L.kw + L.pl];
        L.kh = L.kw = 1, L.pt = L.pl = L.pb = L.pr = 0;
      } else {
        L.K = L.C * L.kh * L.kw;
        wm = w->floats;
      }
      const bool pointwise = L.kh == 1 && L.kw == 1 && L.sh == 1 && L.sw == 1 && L.pt == 0 && L.pl == 0 && L.pb == 0 && L.pr == 0;
      const bool wino = variant->kernels.winograd && !single_pixel && L.kh == 3 && L.kw == 3 && L.sh == 1 && L.sw == 1 &&
                        L.pt == 1 && L.pl == 1 && L.pb == 1 && L.pr == 1 && L.OW >= kWinogradMinWidth;
      // Small maps: a direct kernel that skips the padding taps at compile time (2..small_max), or
      // F(4x4) vectorised over channels (wsmall_min..wsmall_max); the ranges may overlap (AVX-512:
      // the channel-vectorised kernel wins) or leave a gap between them (NEON: 6 takes F(2x2)).
      const bool small_shape = !single_pixel && L.kh == 3 && L.kw == 3 && L.sh == 1 && L.sw == 1 && L.pt == 1 &&
                               L.pl == 1 && L.pb == 1 && L.pr == 1 && L.H == L.W;
      const bool wsmall = small_shape && variant->kernels.conv3x3_wsmall && L.H >= variant->kernels.wsmall_min &&
                          L.H <= variant->kernels.wsmall_max;
      const bool small = wsmall || (small_shape && variant->kernels.conv3x3_small && L.H >= 2 &&
                                    L.H <= variant->kernels.small_max);
      L.mode = single_pixel || pointwise ? ConvMode::Pointwise
               : small ? ConvMode::Small
               : wino ? ConvMode::Winograd
               : L.sh > 1 || L.sw > 1 ? ConvMode::Strided
               : L.sh == 1 && L.sw == 1 && L.OW >= kDirectMinWidth ? ConvMode::Padded
                                                                   : ConvMode::Im2col;
      const int N = L.OH * L.OW;
      if (L.mode == ConvMode::Winograd && variant->kernels.winograd4_input && L.OW >= kWinograd4MinMap &&
          L.OH >= kWinograd4MinMap)
        L.wm = 4;
      L.narrow = L.mode == ConvMode::Winograd ? ((L.OW + L.wm - 1) / L.wm) * ((L.OH + L.wm - 1) / L.wm) <= kNarrowN
                                              : L.mode != ConvMode::Padded && N <= kNarrowN;
      if (L.mode == ConvMode::Small) L.narrow = false;
      L.wsmall = L.mode == ConvMode::Small && wsmall;
      const int mr = L.mode == ConvMode::Small ? variant->kernels.small_mr
                     : L.narrow ? variant->kernels.narrow_mr : variant->kernels.mr;
      if (L.mode == ConvMode::Winograd) {  // 16 or 36 transformed M x C weight matrices, each packed
        const int na = (L.wm + 2) * (L.wm + 2);
        std::vector<float> u(size_t(na) * L.M * L.C);
        if (L.wm == 4) winograd4_weights(wm.data(), L.M, L.C, u.data());
        else winograd_weights(wm.data(), L.M, L.C, u.data());
        L.upanel = packed_size(L.M, L.C, mr);
        L.packed.resize(na * L.upanel);
        for (int i = 0; i < na; ++i) pack_weights(u.data() + size_t(i) * L.M * L.C, L.M, L.C, mr, L.packed.data() + i * L.upanel);
      } else if (L.wsmall) {
        const int wmr = variant->kernels.wsmall_mr;
        if (kTileMWsmall % wmr != 0) throw std::logic_error("conv3x3_wsmall tasks must start at a weight panel");
        L.packed.resize(wsmall_packed_size(L.M, L.C, wmr));
        pack_wsmall_weights(wm.data(), L.M, L.C, wmr, L.packed.data());
      } else {
        L.packed.resize(packed_size(L.M, L.K, mr));
        pack_weights(wm.data(), L.M, L.K, mr, L.packed.data());
      }
      L.mb = kTileM;
      L.m_tiles = (L.M + L.mb - 1) / L.mb;
      L.brow.resize(size_t(L.K));
      if (L.mode == ConvMode::Pointwise) {
        L.nb = kTileNDirect;
        L.n_tiles = (N + L.nb - 1) / L.nb;
        for (int k = 0; k < L.K; ++k) L.brow[k] = k * L.H * L.W;
        if (L.n_tiles == 1 && !L.narrow) {
          // One pixel tile (the classifier): a quarter of the rows per tile, so each of up to four
          // threads has one, and the GEMM packs each strip of B 4 times rather than M/96 times.
          L.mb = std::max(kTileM, (L.M / 4 + kTileM - 1) / kTileM * kTileM);
          L.m_tiles = (L.M + L.mb - 1) / L.mb;
        }
      } else if (L.mode == ConvMode::Small) {
        L.nb = N;
        L.n_tiles = 1;
        if (L.wsmall) {
          // Each task transforms the whole input once, so it gets up to 128 output channels (8
          // panels: fire4-5's expand3x3 in one task, 2 blocks of 4 panels x 4 tiles).
          L.mb = kTileMWsmall;
          L.m_tiles = (L.M + L.mb - 1) / L.mb;
          scratch_per_thread = std::max(scratch_per_thread, variant->kernels.wsmall_scratch(L.H, L.C));
        }
      } else if (L.mode == ConvMode::Strided) {
        // The stems. The input is rewritten once per image as kw * sh planes per channel: plane
        // (c, kx, py) row yy, column ox holds padded pixel (py + sh * yy, sw * ox + kx). Tap (ky, kx)
        // of output pixel n = oy * OW + ox is then plane (c, kx, ky % sh) at n + (ky / sh) * OW: every
        // B row is contiguous over all output pixels, so the GEMM runs over whole 32-pixel blocks
        // across output rows, as for a 1x1 convolution (kw * sh planes instead of im2col's kh * kw).
        L.PH = L.H + L.pt + L.pb, L.PW = L.W + L.pl + L.pr;
        L.RY = L.OH + (L.kh - 1) / L.sh;
        L.nb = kTileNDirect;
        L.n_tiles = (N + L.nb - 1) / L.nb;
        for (int c = 0, k = 0; c < L.C; ++c)
          for (int ky = 0; ky < L.kh; ++ky)
            for (int kx = 0; kx < L.kw; ++kx)
              L.brow[k++] = (((c * L.kw + kx) * L.sh + ky % L.sh) * L.RY + ky / L.sh) * L.OW;
        padded_size = std::max(padded_size, size_t(L.C) * L.kw * L.sh * L.RY * L.OW);
      } else if (L.mode == ConvMode::Im2col) {
        L.nb = kTileNIm2col;
        L.n_tiles = (N + L.nb - 1) / L.nb;
        for (int k = 0; k < L.K; ++k) L.brow[k] = k * L.nb;
        scratch_per_thread = std::max(scratch_per_thread, size_t(L.K) * L.nb);
      } else if (L.mode == ConvMode::Winograd) {
        const int r = L.wm, na = (r + 2) * (r + 2);
        L.TX = (L.OW + r - 1) / r;
        L.T = L.TX * ((L.OH + r - 1) / r);
        L.PH = r * ((L.OH + r - 1) / r) + 2, L.PW = r * L.TX + 2;  // whole (r+2)^2 patches for every tile
        L.phases = r == 4 ? 4 : 1;  // F(4x4): the transform reads 4 column phases (see kernels.h)
        L.QW = (L.PW + L.phases - 1) / L.phases;
        L.nb = r == 4 ? kWinograd4Tiles : kWinogradTiles;
        L.mb = L.M;
        L.m_tiles = 1;
        L.n_tiles = (L.T + L.nb - 1) / L.nb;
        for (int k = 0; k < L.C; ++k) L.brow[k] = k * L.nb;
        L.zeros.assign(size_t(L.M), 0.f);
        padded_size = std::max(padded_size, size_t(L.C) * L.phases * L.PH * L.QW);
        wino_per_thread = std::max(wino_per_thread, size_t(na) * ((L.C + L.M) * L.nb + 2 * kAlign) + kAlign);
      } else {
        // Stride 1 (the reference's 3x3 convolutions): a zero-padded copy of the input; tap
        // (ky, kx) of output row oy is the run of OW floats at row oy + ky, column kx.
        L.PH = L.H + L.pt + L.pb, L.PW = L.W + L.pl + L.pr;
        L.QW = L.PW;
        L.nb = kTileRows;
        L.n_tiles = (L.OH + L.nb - 1) / L.nb;
        for (int c = 0, k = 0; c < L.C; ++c)
          for (int ky = 0; ky < L.kh; ++ky)
            for (int kx = 0; kx < L.kw; ++kx) L.brow[k++] = (c * L.PH + ky) * L.PW + kx;
        padded_size = std::max(padded_size, size_t(L.C) * L.PH * L.PW);
      }
      macs += int64_t(L.M) * L.K * N;
      L.in = x;
      L.out = new_tensor(n.outputs[0], L.M, L.OH, L.OW);
      producer[L.out] = int(layers.size());
      layers.push_back(std::move(L));
    } else if (op == "Relu") {
      int x = tensor_of(m, n, 0);
      int p = producer[x];
      if (p >= 0 && layers[p].kind == Kind::Conv && !layers[p].relu && consumers[n.inputs[0]] == 1) {
        layers[p].relu = true;  // fused: the Relu's output is the conv's output
        ids[n.outputs[0]] = x;
        continue;
      }
      Layer L;
      L.kind = Kind::Relu;
      L.name = n.name;
      L.in = x;
      const Tensor& t = tensors[x];
      L.C = t.C, L.H = t.H, L.W = t.W;
      L.out = new_tensor(n.outputs[0], t.C, t.H, t.W);
      tensors[L.out].shape = tensors[x].shape;
      producer[L.out] = int(layers.size());
      layers.push_back(std::move(L));
    } else if (op == "MaxPool") {
      int x = tensor_of(m, n, 0);
      const Tensor& t = tensors[x];
      if (t.shape.size() != 3) throw ModelError(where(m, n) + ": input must be 4-D");
      auto ks = n.attr_ints("kernel_shape"), st = n.attr_ints("strides"), pads = n.attr_ints("pads");
      if (ks.size() != 2 || ks[0] < 1 || ks[1] < 1) throw ModelError(where(m, n) + ": kernel_shape must have 2 positive values");
      for (int64_t d : n.attr_ints("dilations"))
        if (d != 1) throw ModelError(where(m, n) + ": dilation other than 1 is not supported");
      if (n.attr_string("auto_pad", "NOTSET") != "NOTSET" && n.attr_string("auto_pad", "NOTSET") != "VALID")
        throw ModelError(where(m, n) + ": auto_pad other than NOTSET/VALID is not supported");
      if (n.attr_int("storage_order", 0) != 0 || n.outputs.size() > 1)
        throw ModelError(where(m, n) + ": indices output / storage_order are not supported");
      Layer L;
      L.kind = Kind::MaxPool;
      L.name = n.name;
      L.kh = int(ks[0]), L.kw = int(ks[1]);
      if (!st.empty()) {
        if (st.size() != 2 || st[0] < 1 || st[1] < 1) throw ModelError(where(m, n) + ": bad strides");
        L.sh = int(st[0]), L.sw = int(st[1]);
      }
      int pb = 0, pr = 0;
      if (!pads.empty() && n.attr_string("auto_pad", "NOTSET") == "NOTSET") {
        if (pads.size() != 4) throw ModelError(where(m, n) + ": pads must have 4 values");
        for (int64_t p : pads)
          if (p < 0 || p >= ks[0] || p >= ks[1]) throw ModelError(where(m, n) + ": pads must be smaller than the kernel");
        L.pt = int(pads[0]), L.pl = int(pads[1]), pb = int(pads[2]), pr = int(pads[3]);
      }
      L.C = t.C, L.H = t.H, L.W = t.W;
      const bool ceil = n.attr_int("ceil_mode", 0) != 0;
      auto out_size = [&](int in, int k, int s, int p0, int p1) {
        int span = in + p0 + p1 - k;  // may be negative: ceil_mode lets a window hang over the edge
        if (span < 0 && !ceil) return 0;
        int o = (ceil ? (span >= 0 ? (span + s - 1) / s : -(-span / s)) : span / s) + 1;
        if (ceil && (o - 1) * s >= in + p0) --o;  // the last window must start inside the input
        return o;
      };
      L.OH = out_size(L.H, L.kh, L.sh, L.pt, pb);
      L.OW = out_size(L.W, L.kw, L.sw, L.pl, pr);
      if (L.OH < 1 || L.OW < 1)
        throw ModelError(where(m, n) + ": the pooling window is larger than its " + std::to_string(L.H) + "x" +
                         std::to_string(L.W) + " input");
      L.in = x;
      L.out = new_tensor(n.outputs[0], L.C, L.OH, L.OW);
      producer[L.out] = int(layers.size());
      layers.push_back(std::move(L));
    } else if (op == "Concat") {
      int64_t axis = n.attr_int("axis", 1);
      if (axis != 1 && axis != -3) throw ModelError(where(m, n) + ": only channel concatenation (axis 1) is supported");
      std::vector<int> xs;
      int C = 0;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        int x = tensor_of(m, n, i);
        const Tensor& t = tensors[x];
        if (t.shape.size() != 3 || t.H != tensors[tensor_of(m, n, 0)].H || t.W != tensors[tensor_of(m, n, 0)].W)
          throw ModelError(where(m, n) + ": inputs must be 4-D with equal height and width");
        if (x == input || t.parent >= 0 || std::count(xs.begin(), xs.end(), x))
          throw ModelError(where(m, n) + ": input '" + n.inputs[i] +
                           "' is the graph input, repeated, or already inside another Concat (not supported)");
        xs.push_back(x);
        C += t.C;
      }
      int out = new_tensor(n.outputs[0], C, tensors[xs[0]].H, tensors[xs[0]].W);
      int coff = 0;
      for (int x : xs) {  // each producer writes straight into its slice: no copy
        tensors[x].parent = out;
        tensors[x].coff = coff;
        coff += tensors[x].C;
      }
    } else if (op == "ReduceMean" || op == "GlobalAveragePool") {
      int x = tensor_of(m, n, 0);
      const Tensor& t = tensors[x];
      if (t.shape.size() != 3) throw ModelError(where(m, n) + ": input must be 4-D");
      bool keep = true;
      if (op == "ReduceMean") {
        std::vector<int64_t> axes = n.attr_ints("axes");
        if (n.inputs.size() > 1 && !n.inputs[1].empty()) axes = init_of(n, 1)->ints;
        std::set<int64_t> a;
        for (int64_t v : axes) a.insert(v < 0 ? v + 4 : v);
        if (a != std::set<int64_t>{2, 3}) throw ModelError(where(m, n) + ": only a mean over axes [2, 3] is supported");
        keep = n.attr_int("keepdims", 1) != 0;
      }
      Layer L;
      L.kind = Kind::Mean;
      L.name = n.name;
      L.in = x;
      L.C = t.C, L.H = t.H, L.W = t.W;
      L.out = new_tensor(n.outputs[0], t.C, 1, 1);
      if (!keep) tensors[L.out].shape = {t.C};
      producer[L.out] = int(layers.size());
      layers.push_back(std::move(L));
    } else if (op == "Softmax") {
      // Over all of an image's values: [N, C] on axis 1/-1, or [N, C, 1, 1] on axis 1.
      int x = tensor_of(m, n, 0);
      const Tensor& t = tensors[x];
      const int64_t axis = n.attr_int("axis", -1), rank = int64_t(t.shape.size()) + 1;
      const bool whole = (rank == 2 && (axis == 1 || axis == -1)) ||
                         (rank == 4 && t.H == 1 && t.W == 1 && (axis == 1 || axis == -3));
      if (!whole) throw ModelError(where(m, n) + ": only a softmax over the class axis of [N, C] (or [N, C, 1, 1]) is supported");
      Layer L;
      L.kind = Kind::Softmax;
      L.name = n.name;
      L.in = x;
      L.C = t.C, L.H = t.H, L.W = t.W;
      L.out = new_tensor(n.outputs[0], t.C, t.H, t.W);
      tensors[L.out].shape = t.shape;
      producer[L.out] = int(layers.size());
      layers.push_back(std::move(L));
    } else if (op == "Reshape" || op == "Flatten" || op == "Identity" || op == "Dropout") {
      int x = tensor_of(m, n, 0);
      std::vector<int64_t> shape = tensors[x].shape;
      const int64_t numel = int64_t(tensors[x].size());
      if (op == "Flatten") {
        if (n.attr_int("axis", 1) != 1) throw ModelError(where(m, n) + ": only axis 1 is supported");
        shape = {numel};
      } else if (op == "Reshape") {
        const OnnxTensor* s = init_of(n, 1);
        if (!s || s->ints.empty()) throw ModelError(where(m, n) + ": the shape must be an int64 initializer");
        shape.assign(s->ints.begin() + 1, s->ints.end());  // entry 0 is the batch
        int64_t known = 1, infer = -1;
        for (size_t i = 0; i < shape.size(); ++i) {
          if (shape[i] == -1 && infer < 0) infer = int64_t(i);
          else if (shape[i] > 0) known *= shape[i];
          else throw ModelError(where(m, n) + ": unsupported shape entry " + std::to_string(shape[i]));
        }
        if (infer >= 0 && known > 0 && numel % known == 0) shape[size_t(infer)] = numel / known;
        int64_t got = 1;
        for (int64_t v : shape) got *= v;
        if (got != numel) throw ModelError(where(m, n) + ": cannot reshape " + std::to_string(numel) + " values per image");
      }
      // A view: the same storage under a new name, and the graph's shape for it.
      if (shape != tensors[x].shape) {
        Tensor v = tensors[x];
        tensors.push_back(v);
        producer.push_back(producer[x]);
        int id = int(tensors.size()) - 1;
        tensors[id].parent = x;
        tensors[id].coff = 0;
        tensors[id].shape = shape;
        ids[n.outputs[0]] = id;
      } else {
        ids[n.outputs[0]] = x;
      }
    } else {
      throw ModelError(where(m, n) + ": operator '" + op + "' is not supported by the native engine");
    }
  }
  if (m.outputs.size() != 1) throw ModelError(m.source + ": the graph must have exactly one output");
  auto it = ids.find(m.outputs[0].name);
  if (it == ids.end()) throw ModelError(m.source + ": output '" + m.outputs[0].name + "' is never computed");
  output = it->second;
  out_shape = tensors[output].shape;
  if (layers.empty()) throw ModelError(m.source + ": the graph computes nothing");

  fuse_pools();
  // Storage: root tensors whose lifetimes (first write .. last read, in layer order) do not overlap
  // share arena space, first fit. The working set stays a few MB and hot in cache instead of
  // the sum of all activations. Views and Concat slices resolve against their root per image.
  auto root = [&](int t) {
    while (tensors[t].parent >= 0) t = tensors[t].parent;
    return t;
  };
  const int never = int(layers.size()) + 1;
  std::vector<int> def(tensors.size(), never), last(tensors.size(), -1);
  for (int i = 0; i < int(layers.size()); ++i) {
    const Layer& L = layers[i];
    if (L.fused) continue;  // run by its producer, which writes the pooled output directly
    const int written = L.pool >= 0 ? layers[size_t(L.pool)].out : L.out;
    last[root(L.in)] = std::max(last[root(L.in)], i);
    def[root(written)] = std::min(def[root(written)], i);
    last[root(written)] = std::max(last[root(written)], i);
  }
  last[root(output)] = never;  // copied out after the last layer
  struct Block {
    size_t begin, end;
    int last;
  };
  std::vector<Block> live;  // sorted by begin
  size_t total = 0;
  for (int i = 0; i < int(layers.size()); ++i) {
    for (size_t t = 0; t < tensors.size(); ++t) {
      if (def[t] != i || int(t) == input || tensors[t].parent >= 0) continue;
      live.erase(std::remove_if(live.begin(), live.end(), [&](const Block& b) { return b.last < i; }), live.end());
      const size_t need = (tensors[t].size() + kAlign - 1) / kAlign * kAlign;
      size_t at = 0;
      for (const Block& b : live) {
        if (b.begin >= at + need) break;
        at = std::max(at, b.end);
      }
      tensors[t].offset = at;
      live.push_back({at, at + need, last[t]});
      std::sort(live.begin(), live.end(), [](const Block& x, const Block& y) { return x.begin < y.begin; });
      total = std::max(total, at + need);
    }
  }
  arena.assign(total + kAlign, 0.f);
  scratch.assign(scratch_per_thread * size_t(pool->threads()) + kAlign, 0.f);
  padded.assign(padded_size + kAlign, 0.f);
  wino.assign(wino_per_thread * size_t(pool->threads()), 0.f);
  band.assign(band_per_thread * size_t(pool->threads()), 0.f);
  ptr.assign(tensors.size(), nullptr);
}

// A strided im2col convolution (the stem) whose only reader is a MaxPool runs in bands of pooled
// rows: each band's conv rows go to a per-thread buffer that stays in L2 and are pooled at once,
// instead of writing the whole map (3 MB at 224x224) and reading it back. A band recomputes the
// one conv row it shares with the next (kh - sh rows; about 1/8 more work for the stem).
void Engine::Impl::fuse_pools() {
  for (Layer& L : layers) {
    if (L.kind != Kind::Conv || (L.mode != ConvMode::Im2col && L.mode != ConvMode::Strided) || L.narrow || L.out == output ||
        tensors[L.out].parent >= 0)
      continue;
    int users = 0, pool_index = -1;
    for (size_t j = 0; j < layers.size(); ++j)
      if (layers[j].in == L.out) ++users, pool_index = layers[j].kind == Kind::MaxPool ? int(j) : pool_index;
    for (const Tensor& t : tensors) users += t.parent == L.out;
    if (users != 1 || pool_index < 0) continue;
    Layer& P = layers[size_t(pool_index)];
    const int rows_fit = int(kBandFloats / (size_t(L.M) * L.OW));
    if (rows_fit < P.kh + P.sh) continue;  // bands too thin to pay off
    L.pool = pool_index;
    L.pool_rows = (rows_fit - P.kh) / P.sh + 1;
    L.m_tiles = 1;
    L.n_tiles = (P.OH + L.pool_rows - 1) / L.pool_rows;
    P.fused = true;
    band_per_thread = std::max(band_per_thread, size_t(L.M) * ((L.pool_rows - 1) * P.sh + P.kh) * L.OW + kAlign);
  }
}

void Engine::Impl::conv_pool_band(const Layer& L, int b, int thread) {
  const Layer& P = layers[size_t(L.pool)];
  const KernelTable& k = variant->kernels;
  const int p0 = b * L.pool_rows, p1 = std::min(P.OH, p0 + L.pool_rows);
  const int r0 = std::max(0, p0 * P.sh - P.pt), r1 = std::min(L.OH, (p1 - 1) * P.sh - P.pt + P.kh);
  const int base = r0 * L.OW, N = (r1 - r0) * L.OW;
  float* buf = band.data() + size_t(thread) * band_per_thread;
  float* cols = scratch.data() + size_t(thread) * scratch_per_thread;
  const float* in = ptr[L.in];
  GemmArgs g;
  g.M = L.M, g.K = L.K, g.a = L.packed.data(), g.brow = L.brow.data(), g.bias = L.bias.data();
  g.ldc = N, g.relu = L.relu, g.b = cols;
  if (L.mode == ConvMode::Strided) {  // the band's conv rows are one run of pixels of the planes
    g.N = N;
    g.b = padded.data() + base;
    g.c = buf;
    k.gemm(g);
  }
  for (int n0 = base; L.mode == ConvMode::Im2col && n0 < base + N; n0 += L.nb) {
    const int n1 = std::min(base + N, n0 + L.nb);
    k.im2col({in, L.C, L.H, L.W, L.kh, L.kw, L.sh, L.sw, L.pt, L.pl, L.OH, L.OW, n0, n1, L.nb, cols});
    g.N = n1 - n0;
    g.c = buf + (n0 - base);
    k.gemm(g);
  }
  float* out = ptr[P.out];
  // Band row 0 is conv row r0: shift the pool's top padding to match. A band of all pooled rows
  // (small maps) has the output's channel stride: one call for every channel.
  if (p0 == 0 && p1 == P.OH) {
    k.maxpool({buf, r1 - r0, L.OW, P.kh, P.kw, P.sh, P.sw, P.pt + r0, P.pl, P.OH, P.OW, 0, L.M, out});
    return;
  }
  for (int c = 0; c < L.M; ++c)
    k.maxpool({buf + size_t(c) * N, r1 - r0, L.OW, P.kh, P.kw, P.sh, P.sw, P.pt + r0 - p0 * P.sh, P.pl, p1 - p0, P.OW, 0, 1,
               out + (size_t(c) * P.OH + p0) * P.OW});
}

void Engine::Impl::resolve(const float* in) {
  float* base = arena.data();
  for (size_t t = 0; t < tensors.size(); ++t) {
    // Parents are created after Concat inputs but views after their source; resolve recursively.
    size_t off = 0;
    int r = int(t);
    while (tensors[r].parent >= 0) {
      off += size_t(tensors[r].coff) * tensors[r].H * tensors[r].W;
      r = tensors[r].parent;
    }
    ptr[t] = (r == input ? const_cast<float*>(in) : base + tensors[r].offset) + off;
  }
}

void Engine::Impl::task(void* self, int t, int thread) {
  Impl& e = *static_cast<Impl*>(self);
  const Layer& L = *e.current;
  const KernelTable& k = e.variant->kernels;
  const GemmFn gemm = L.narrow ? k.gemm_narrow : k.gemm;
  const float* in = e.ptr[L.in];
  float* out = e.ptr[L.out];
  switch (L.kind) {
    case Kind::Conv: {
      if (L.pool >= 0) {
        e.conv_pool_band(L, t, thread);
        break;
      }
      const int N = L.OH * L.OW;
      const int mt = t / L.n_tiles, nt = t % L.n_tiles;
      const int m0 = mt * L.mb, m1 = std::min(L.M, m0 + L.mb);
      GemmArgs g;
      g.M = m1 - m0, g.K = L.K;
      g.a = L.packed.data() + size_t(m0) * L.K;
      g.brow = L.brow.data();
      g.bias = L.bias.data() + m0;
      g.ldc = N;
      g.relu = L.relu;
      if (L.mode == ConvMode::Small && L.wsmall) {
        Conv3x3SmallArgs s{in, L.C, L.H, L.W, m1 - m0, L.packed.data() + size_t(m0) * 36 * L.C, g.bias, out + size_t(m0) * N,
                           L.relu};
        s.scratch = e.scratch.data() + size_t(thread) * e.scratch_per_thread;
        k.conv3x3_wsmall(s);
        break;
      }
      if (L.mode == ConvMode::Small) {
        k.conv3x3_small({in, L.C, L.H, L.W, m1 - m0, g.a, g.bias, out + size_t(m0) * N, L.relu});
        break;
      }
      if (L.mode == ConvMode::Winograd) {  // the tile's "columns" are 2x2 output tiles
        const int t0 = nt * L.nb, t1 = std::min(L.T, t0 + L.nb);
        float* v = e.wino.data() + size_t(thread) * e.wino_per_thread;
        const size_t vs = size_t(L.C) * L.nb + kAlign, ms = size_t(L.M) * L.nb + kAlign;  // see winograd.h
        const int na = (L.wm + 2) * (L.wm + 2);
        float* mo = v + na * vs;
        if (L.wm == 4) k.winograd4_input(e.padded.data(), L.PH, L.QW, L.C, L.TX, t0, t1, v, L.nb, vs);
        else winograd_input(e.padded.data(), L.PH, L.PW, L.C, L.TX, t0, t1, v, L.nb, vs);
        g.N = t1 - t0;
        g.K = L.C;
        g.bias = L.zeros.data();
        g.ldc = L.nb;
        g.relu = false;
        for (int i = 0; i < na; ++i) {
          g.a = L.packed.data() + i * L.upanel;
          g.b = v + i * vs;
          g.c = mo + i * ms;
          gemm(g);
        }
        if (L.wm == 4) k.winograd4_output(mo, L.M, L.nb, ms, L.TX, t0, t1, L.bias.data(), L.relu, out, L.OH, L.OW);
        else winograd_output(mo, L.M, L.nb, ms, L.TX, t0, t1, L.bias.data(), L.relu, out, L.OH, L.OW);
        break;
      }
      if (L.mode == ConvMode::Padded) {  // here the tile's "columns" are output rows
        const int r0 = nt * L.nb, r1 = std::min(L.OH, r0 + L.nb);
        g.N = L.OW;
        for (int oy = r0; oy < r1; ++oy) {
          g.b = e.padded.data() + size_t(oy) * L.PW;
          g.c = out + size_t(m0) * N + size_t(oy) * L.OW;
          gemm(g);
        }
        break;
      }
      const int n0 = nt * L.nb, n1 = std::min(N, n0 + L.nb);
      g.N = n1 - n0;
      g.c = out + size_t(m0) * N + n0;
      if (L.mode == ConvMode::Im2col) {
        float* cols = e.scratch.data() + size_t(thread) * e.scratch_per_thread;
        k.im2col({in, L.C, L.H, L.W, L.kh, L.kw, L.sh, L.sw, L.pt, L.pl, L.OH, L.OW, n0, n1, L.nb, cols});
        g.b = cols;
      } else if (L.mode == ConvMode::Strided) {
        g.b = e.padded.data() + n0;
      } else {
        g.b = in + n0;
      }
      gemm(g);
      break;
    }
    case Kind::MaxPool: {
      const int c0 = t * kPoolChannels, c1 = std::min(L.C, c0 + kPoolChannels);
      k.maxpool({in, L.H, L.W, L.kh, L.kw, L.sh, L.sw, L.pt, L.pl, L.OH, L.OW, c0, c1, out});
      break;
    }
    case Kind::Mean: k.mean({in, L.H * L.W, 0, L.C, out}); break;
    case Kind::Softmax: k.softmax(in, L.C * L.H * L.W, out); break;
    case Kind::Relu: {
      const size_t n = size_t(L.C) * L.H * L.W;
      for (size_t i = 0; i < n; ++i) out[i] = std::max(in[i], 0.f);
      break;
    }
  }
}

// Copies a Padded-mode convolution's input into `padded` with its zero border (one pass, before
// the tiles run; every row is written whole, so no stale border survives from another layer).
void Engine::Impl::pad_input(const Layer& L) {
  if (L.kind != Kind::Conv || (L.mode != ConvMode::Padded && L.mode != ConvMode::Winograd && L.mode != ConvMode::Strided))
    return;
  const float* in = ptr[L.in];
  float* p = padded.data();
  if (L.mode == ConvMode::Strided) {  // shifted planes (see build); zero where they read padding
    const KernelTable& k = variant->kernels;
    const int s = L.sw;
    for (int c = 0; c < L.C; ++c)
      for (int kx = 0; kx < L.kw; ++kx)
        for (int py = 0; py < L.sh; ++py) {
          float* dst = p + size_t((c * L.kw + kx) * L.sh + py) * L.RY * L.OW;
          const int off = kx - L.pl;  // input column of output column ox is s * ox + off
          const int j0 = std::min(L.OW, std::max(0, (s - 1 - off) / s));
          const int j1 = L.W - 1 - off < 0 ? j0 : std::max(j0, std::min(L.OW, (L.W - 1 - off) / s + 1));
          // Plane rows yy in [y0, y1) read input rows iy = py + sh * yy - pt inside the map.
          const int y0 = std::min(L.RY, std::max(0, (L.pt - py + L.sh - 1) / L.sh));
          const int last = L.H - 1 + L.pt - py;  // sh * (last plane row inside the map), if >= 0
          const int y1 = last < 0 ? y0 : std::max(y0, std::min(L.RY, last / L.sh + 1));
          std::fill(dst, dst + size_t(y0) * L.OW, 0.f);
          std::fill(dst + size_t(y1) * L.OW, dst + size_t(L.RY) * L.OW, 0.f);
          for (int yy = y0; yy < y1; ++yy) {
            float* d = dst + size_t(yy) * L.OW;
            std::fill(d, d + j0, 0.f);
            std::fill(d + j1, d + L.OW, 0.f);
          }
          if (y1 == y0 || j1 == j0) continue;
          const float* src = in + (size_t(c) * L.H + py + L.sh * y0 - L.pt) * L.W + s * j0 + off;
          if (s == 2)  // the stems: the variant's stride-2 gather over all the plane's rows at once
            k.gather2(src, ptrdiff_t(L.sh) * L.W, y1 - y0, j1 - j0, dst + size_t(y0) * L.OW + j0, L.OW);
          else
            for (int yy = y0; yy < y1; ++yy)
              for (int j = j0; j < j1; ++j) dst[size_t(yy) * L.OW + j] = src[size_t(yy - y0) * L.sh * L.W + size_t(j - j0) * s];
        }
    return;
  }
  if (L.phases > 1) {  // Winograd F(4x4): 4 column phases (see kernels.h), the variant's split
    for (int c = 0; c < L.C; ++c)
      variant->kernels.phase4(in + size_t(c) * L.H * L.W, L.H, L.W, L.pt, L.pl, L.PH, L.QW, p + size_t(c) * 4 * L.PH * L.QW);
    return;
  }
  for (int c = 0; c < L.C; ++c) {
    const float* src = in + size_t(c) * L.H * L.W;
    float* dst = p + size_t(c) * L.PH * L.PW;
    std::fill(dst, dst + size_t(L.pt) * L.PW, 0.f);
    dst += size_t(L.pt) * L.PW;
    for (int y = 0; y < L.H; ++y, dst += L.PW, src += L.W) {
      std::fill(dst, dst + L.pl, 0.f);
      std::memcpy(dst + L.pl, src, size_t(L.W) * sizeof(float));
      std::fill(dst + L.pl + L.W, dst + L.PW, 0.f);  // right padding (Winograd: up to a whole tile)
    }
    std::fill(dst, dst + size_t(L.PH - L.pt - L.H) * L.PW, 0.f);
  }
}

void Engine::Impl::run_layer(const Layer& L) {
  if (L.fused) return;  // its producer pooled each band
  pad_input(L);
  current = &L;
  pool->run(L.tasks(), &Impl::task, this);
}

void Engine::Impl::run_one(const float* in, float* out) {
  resolve(in);
  for (const Layer& L : layers) run_layer(L);
  std::memcpy(out, ptr[output], tensors[output].size() * sizeof(float));
}

Engine::Engine(const OnnxModel& model, int threads, const std::string& variant) : impl_(new Impl) {
  if (threads < 1 || threads > kMaxThreads)
    throw std::invalid_argument("threads must be 1.." + std::to_string(kMaxThreads) + ", got " + std::to_string(threads));
  impl_->variant = &select_variant(variant);
  impl_->pool.reset(new ThreadPool(threads));
  impl_->build(model);
}

std::unique_ptr<Engine> Engine::from_file(const std::string& path, int threads, const std::string& variant) {
  return std::unique_ptr<Engine>(new Engine(read_onnx(path), threads, variant));
}

Engine::~Engine() = default;

void Engine::run(const float* in, int batch, float* out) {
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  const size_t in_size = impl_->tensors[impl_->input].size(), out_size = output_size();
  for (int i = 0; i < batch; ++i) impl_->run_one(in + size_t(i) * in_size, out + size_t(i) * out_size);
}

void Engine::set_preprocessing(const PreprocessSpec& spec) {
  if (spec.height != input_height() || spec.width != input_width() || input_channels() != spec.channels)
    throw ModelError(impl_->source + ": preprocessing " + std::to_string(spec.channels) + "x" +
                     std::to_string(spec.height) + "x" + std::to_string(spec.width) + " does not match the graph input " +
                     std::to_string(input_channels()) + "x" + std::to_string(input_height()) + "x" +
                     std::to_string(input_width()));
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  impl_->prep.reset(new Preprocessor(spec));
  impl_->prep_buf.assign(impl_->tensors[impl_->input].size(), 0.f);
}

bool Engine::has_preprocessing() const { return impl_->prep != nullptr; }

void Engine::preprocess(const uint8_t* px, int H, int W, float* out, PixelLayout layout) {
  if (!impl_->prep) throw std::invalid_argument(impl_->source + ": the model has no preprocessing metadata");
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  impl_->prep->run(px, H, W, out, layout);
}

void Engine::run_image(const uint8_t* px, int H, int W, float* out, PixelLayout layout) {
  if (!impl_->prep) throw std::invalid_argument(impl_->source + ": the model has no preprocessing metadata");
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  impl_->prep->run(px, H, W, impl_->prep_buf.data(), layout);
  impl_->run_one(impl_->prep_buf.data(), out);
}

int Engine::input_channels() const { return impl_->tensors[impl_->input].C; }
int Engine::input_height() const { return impl_->tensors[impl_->input].H; }
int Engine::input_width() const { return impl_->tensors[impl_->input].W; }
const std::vector<int64_t>& Engine::output_shape() const { return impl_->out_shape; }
size_t Engine::output_size() const { return impl_->tensors[impl_->output].size(); }
const char* Engine::variant() const { return impl_->variant->name; }
int Engine::threads() const { return impl_->pool->threads(); }
const std::map<std::string, std::string>& Engine::metadata() const { return impl_->metadata; }
int64_t Engine::macs() const { return impl_->macs; }

std::vector<Engine::LayerTime> Engine::profile(const float* in) {
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  Impl& e = *impl_;
  e.resolve(in);
  std::vector<LayerTime> out;
  static const char* kinds[] = {"Conv", "MaxPool", "Mean", "Relu", "Softmax"};
  for (const Layer& L : e.layers) {
    auto t0 = std::chrono::steady_clock::now();
    e.run_layer(L);
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    int64_t macs = L.kind == Kind::Conv ? int64_t(L.M) * L.K * L.OH * L.OW : 0;
    out.push_back({L.name, kinds[int(L.kind)], macs, dt.count()});
  }
  return out;
}

}  // namespace bluefire
