// The engine's layer list (internal): tensors, layers and the constants tiles are cut by.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bluefire/kernels_s8.h"

namespace bluefire {

struct ConvAlgo;

constexpr int kQuantChannels = 16;  // channels per Quantize / Dequantize task

constexpr size_t kAlign = 16;  // floats (64 bytes, one cache line): arena blocks, per-thread slices
constexpr int kTileM = 96;     // rows per GEMM tile: a multiple of every variant's mr (4, 6, 8, 16)
constexpr int kMaxThreads = 4;
// A layer is cut into more tasks than its shape needs (whole panels of output channels, never
// anything that changes how an output is computed) only while each has at least this much work
// (multiply-accumulates, or max-pool window reads): below it, handing a task to another core costs
// more than it saves, so a small layer stays one task and runs on the calling thread alone.
constexpr int64_t kMinTaskWork = 64 * 1024;
// Tasks a layer of `work` is cut into for `threads` threads: 1, 2 or 4 (powers of two, so 2 and 4
// threads share them evenly), never more than the threads.
inline int task_parts(int64_t work, int threads) {
  const int by_work = work >= 4 * kMinTaskWork ? 4 : work >= 2 * kMinTaskWork ? 2 : 1;
  return std::min(by_work, threads >= 4 ? 4 : threads >= 2 ? 2 : 1);
}

// What a tensor holds and a convolution computes in: float32, or uint8 with a per-tensor scale and
// zero point (int8 QDQ files: real = scale * (q - zp)); U8 convolutions have their own entries in
// the algorithm table (conv_s8.cpp).
enum class DType { F32, U8 };

struct Tensor {
  int C = 0, H = 0, W = 0;
  std::vector<int64_t> shape;  // per-image shape as the graph sees it (rank-1 without batch)
  int parent = -1;             // -1: owns its storage; else lives inside `parent` at channel `coff`
  int coff = 0;
  size_t offset = 0;         // into the arena, for roots other than the input
  DType dtype = DType::F32;  // U8: real = scale * (q - zp)
  float scale = 1.f;
  int zp = 0;
  size_t size() const { return size_t(C) * H * W; }  // elements
  // Arena floats it takes. A uint8 tensor keeps kS8Overread bytes after it that no other tensor
  // uses while it lives: the int8 GEMM loads its last block of pixels past the last plane's end
  // directly (pointwise_s8) instead of through a copy, and what it reads there is never written
  // meanwhile.
  size_t floats() const { return dtype == DType::U8 ? (size() + kS8Overread + 3) / 4 : size(); }
};

enum class Kind { Conv, MaxPool, Mean, Relu, Softmax, Quantize, Dequantize };

struct Layer {
  Kind kind = Kind::Conv;
  std::string name;
  int in = -1, out = -1;  // tensor ids
  int C = 0, H = 0, W = 0, OH = 0, OW = 0;
  int kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;

  // Conv, as parsed (graph.cpp)
  int M = 0, K = 0;  // output channels; GEMM depth (C * kh * kw, or C once a 1x1 map keeps one tap)
  bool relu = false;
  DType dtype = DType::F32;
  std::vector<float> weights;  // M x C x kh x kw as read; released once the algorithm has packed them
  std::vector<float> bias;     // M

  // Conv on uint8 (dtype U8, from QDQ): int8 weights per output channel (real = wscale[m] * q),
  // int32 bias at in_scale * wscale[m]; the output is uint8 at (out_scale, out_zp). Also the dtype
  // of a MaxPool or Mean whose input is uint8 (in_scale, in_zp), and of a Quantize layer's output.
  std::vector<int8_t> qweights;  // M x C x kh x kw as read
  std::vector<float> wscale;
  std::vector<int32_t> qbias;
  float in_scale = 1.f, out_scale = 1.f;
  int in_zp = 0, out_zp = 0;
  const S8Kernels* s8 = nullptr;   // the variant's int8 kernels (engine.cpp)
  std::vector<uint8_t> packed_s8;  // weights packed for s8->gemm
  std::vector<int32_t> bias_s8;    // qbias - in_zp * sum_k w[m][k]
  std::vector<float> oscale;       // in_scale * wscale[m] / out_scale, in float (kernels_s8.h)

  // Conv, chosen and prepared by its algorithm (conv_*.cpp)
  const ConvAlgo* algo = nullptr;
  bool narrow = false;        // GEMM calls of at most kNarrowN columns: the table's gemm_narrow
  std::vector<float> packed;  // weights in the layout the algorithm's kernel reads
  std::vector<int> brow;      // B row offsets, see GemmArgs
  int PH = 0, PW = 0;         // the prepared input's rows and row width (padded copies)
  int QW = 0;                 // Winograd F(4x4): width of each of the 4 column phases
  int RY = 0;                 // strided: rows of each shifted plane
  int wino_tile = 0;          // Winograd: output tile side, 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3))
  int TX = 0, T = 0;          // Winograd: tiles per row, tiles in all
  size_t upanel = 0;          // Winograd: floats per packed transformed-weight matrix
  size_t transformed_at = 0;  // Winograd, one tile task cut by channel: where in the prepared
                              // input prepare_input puts the transformed input; else 0
  int ld = 0;                 // Winograd: row stride of the transformed input and the products
                              // (the larger nb of the two cuts, so both use one layout)
  std::vector<float> zeros;   // Winograd: the products' (zero) bias
  // Tasks: m_tiles x n_tiles tiles of mb output channels x nb columns (pixels, rows or Winograd tiles)
  int mb = 0, nb = 0, m_tiles = 0, n_tiles = 0;

  // A strided convolution whose only reader is a max-pool runs it, in bands of pooled rows.
  int pool_channels = 0;         // MaxPool: channels per task
  int fused_pool = -1;           // index of the MaxPool this conv runs
  int pool_rows = 0;             // pooled rows per band
  bool run_by_producer = false;  // a MaxPool whose producer runs it

  // How the layer is cut into tasks, twice: `alone` as a one-thread engine cuts it (run on the
  // calling thread), `shared` as split_channels cuts it for the engine's threads (run over the
  // pool). Outputs are identical either way; the engine measures both at build and keeps the pool
  // only where it is clearly faster (`split`), then copies the chosen cut into the fields above.
  struct Cut {
    int mb = 0, m_tiles = 0, nb = 0, n_tiles = 0, pool_channels = 0, pool_rows = 0;
    size_t transformed_at = 0;
  };
  Cut alone, shared;
  bool split = false;
  // Fire's two expands: a Conv right after this one that reads the same input (index `sibling`)
  // and could run in one pool job with it, both with their shared cuts, the tasks of the two
  // interleaved (`pair_order`: t >= 0 this layer's task t, else the sibling's task -1 - t): the
  // store-bound expand1x1 tasks run beside the compute-bound expand3x3 ones, and one barrier
  // goes. `paired` (on this first layer) when the engine measured that faster (calibrate).
  int sibling = -1;
  bool paired = false;
  std::vector<int> pair_order;
  Cut cut() const { return {mb, m_tiles, nb, n_tiles, pool_channels, pool_rows, transformed_at}; }
  void use(const Cut& c) {
    mb = c.mb, m_tiles = c.m_tiles, nb = c.nb, n_tiles = c.n_tiles, pool_channels = c.pool_channels;
    pool_rows = c.pool_rows, transformed_at = c.transformed_at;
  }

  int tasks() const {
    switch (kind) {
      case Kind::Conv: return m_tiles * n_tiles;
      case Kind::MaxPool: return (C + pool_channels - 1) / pool_channels;
      case Kind::Quantize:
      case Kind::Dequantize: return (C + kQuantChannels - 1) / kQuantChannels;
      default: return 1;
    }
  }
};

}  // namespace bluefire
