// The engine: a parsed graph (graph.cpp) whose convolutions each run on the first algorithm of
// the table that applies (conv_algos.cpp; the algorithms in conv_*.cpp), weights packed once,
// activations placed in one arena by lifetime (arena.cpp), every buffer allocated at build time.
// Layers run one after another; each layer's tasks go to the thread pool. A layer with enough
// work for several threads has its output channels cut into more tasks (whole weight panels, see
// split_channels); how each output is computed never depends on the cut or on which thread runs
// it, so results are identical with 1-4 threads. See native/README.md.
#include "bluefire/engine.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "bluefire/kernels.h"
#include "bluefire/kernels_s8.h"
#include "bluefire/registry.h"
#include "bluefire/thread_pool.h"
#include "engine/arena.h"
#include "engine/conv.h"
#include "engine/graph.h"

namespace bluefire {
namespace {

constexpr size_t kBandFloats = 128 * 1024;  // per-thread band of a convolution fused with its pool

// Floats starting on a cache line (kAlign floats), zero-filled.
class Buffer {
 public:
  void assign(size_t n) {
    v_.assign(n + kAlign, 0.f);
    p_ = v_.data() + (kAlign - (reinterpret_cast<uintptr_t>(v_.data()) / sizeof(float)) % kAlign) % kAlign;
  }
  float* data() { return p_; }

 private:
  std::vector<float> v_;
  float* p_ = nullptr;
};

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

}  // namespace

struct Engine::Impl {
  std::string source;
  const Variant* variant = nullptr;
  std::map<std::string, std::string> metadata;
  Graph g;
  Buffer arena;
  Buffer prepared;  // the current convolution's prepared input (padded copy, planes)
  Buffer work;      // per-thread scratch, one cache-aligned slice per thread
  size_t work_per_thread = 0;
  Buffer band;  // conv rows of a conv+pool band, one slice per thread
  size_t band_per_thread = 0;
  std::vector<float*> ptr;  // per tensor, refreshed for each image
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Preprocessor> prep;
  std::vector<float> prep_buf;
  std::mutex run_mu;
  int64_t macs = 0;
  const Layer* current = nullptr;

  void build(const OnnxModel& m);
  void fuse_pools();
  void plan_storage();
  void resolve(const float* in);
  void run_one(const float* in, float* out);
  void run_layer(const Layer& L);
  void conv_pool_band(const Layer& L, int band, int thread);
  ConvIO conv_io(const Layer& L, int thread) {
    return {variant->kernels, ptr[L.in], ptr[L.out], prepared.data(), work.data() + size_t(thread) * work_per_thread};
  }
  static void task(void* self, int t, int thread);
};

void Engine::Impl::build(const OnnxModel& m) {
  source = m.source;
  metadata = m.metadata;
  g = parse_graph(m);
  const KernelTable& k = variant->kernels;
  Workspace ws;
  ws.threads = pool->threads();
  for (Layer& L : g.layers) {
    if (L.dtype == DType::U8) L.s8 = &select_s8(variant->name);  // the int8 kernels of the same ISA
    if (L.kind == Kind::MaxPool) {
      const int parts = task_parts(int64_t(L.C) * L.OH * L.OW * L.kh * L.kw, pool->threads());
      L.pool_channels = (L.C + parts - 1) / parts;
    }
    if (L.kind != Kind::Conv) continue;
    L.algo = &choose_conv(L, k);
    L.algo->prepare(L, k, ws);
    L.weights = std::vector<float>();  // packed now
    macs += int64_t(L.M) * L.K * L.OH * L.OW;
  }
  fuse_pools();
  plan_storage();
  const size_t threads = size_t(pool->threads());
  work_per_thread = round_up(ws.per_thread, kAlign);
  band_per_thread = round_up(band_per_thread, kAlign);
  prepared.assign(ws.prepared);
  work.assign(work_per_thread * threads);
  band.assign(band_per_thread * threads);
  ptr.assign(g.tensors.size(), nullptr);
}

// A convolution whose rows an algorithm can compute in bands (`rows`: the strided stem, im2col)
// and whose only reader is a MaxPool runs in bands of pooled rows: each band's conv rows go to a
// per-thread buffer that stays in L2 and are pooled at once, instead of writing the whole map
// (3 MB at 224x224) and reading it back. A band recomputes the conv rows it shares with the next
// (kh - sh rows; about 1/8 more work for the stem).
void Engine::Impl::fuse_pools() {
  for (Layer& L : g.layers) {
    if (L.kind != Kind::Conv || !L.algo->rows || L.narrow || L.out == g.output || g.tensors[L.out].parent >= 0)
      continue;
    int users = 0, pool_index = -1;
    for (size_t j = 0; j < g.layers.size(); ++j)
      if (g.layers[j].in == L.out) ++users, pool_index = g.layers[j].kind == Kind::MaxPool ? int(j) : pool_index;
    for (const Tensor& t : g.tensors) users += t.parent == L.out;
    if (users != 1 || pool_index < 0) continue;
    Layer& P = g.layers[size_t(pool_index)];
    const int rows_fit = int(kBandFloats / (size_t(L.M) * L.OW));
    if (rows_fit < P.kh + P.sh) continue;  // bands too thin to pay off
    L.fused_pool = pool_index;
    // Bands of at most rows_fit conv rows; each band's channels cut as the layer's tiles are
    // (split_channels), so small stems still make several tasks without recomputing rows.
    L.pool_rows = (rows_fit - P.kh) / P.sh + 1;
    L.n_tiles = (P.OH + L.pool_rows - 1) / L.pool_rows;
    L.mb = L.M, L.m_tiles = 1;
    split_channels(L, variant->kernels.mr, pool->threads());
    P.run_by_producer = true;
    band_per_thread = std::max(band_per_thread, size_t(L.M) * ((L.pool_rows - 1) * P.sh + P.kh) * L.OW + kAlign);
  }
}

// Root tensors (not views, not Concat slices, not the graph input) get arena space by lifetime:
// first write .. last read, in layer order (plan_arena).
void Engine::Impl::plan_storage() {
  auto root = [&](int t) {
    while (g.tensors[t].parent >= 0) t = g.tensors[t].parent;
    return t;
  };
  const int never = int(g.layers.size()) + 1;
  std::vector<ArenaRequest> req(g.tensors.size());
  for (size_t t = 0; t < g.tensors.size(); ++t) req[t] = {g.tensors[t].floats(), never, -1};
  for (int i = 0; i < int(g.layers.size()); ++i) {
    const Layer& L = g.layers[i];
    if (L.run_by_producer) continue;  // its producer writes the pooled output directly
    const int written = L.fused_pool >= 0 ? g.layers[size_t(L.fused_pool)].out : L.out;
    req[root(L.in)].last = std::max(req[root(L.in)].last, i);
    req[root(written)].first = std::min(req[root(written)].first, i);
    req[root(written)].last = std::max(req[root(written)].last, i);
  }
  req[root(g.output)].last = never;  // copied out after the last layer
  for (size_t t = 0; t < g.tensors.size(); ++t)
    if (req[t].first == never || int(t) == g.input || g.tensors[t].parent >= 0) req[t].first = -1;
  const ArenaPlan plan = plan_arena(req, kAlign);
  for (size_t t = 0; t < g.tensors.size(); ++t) g.tensors[t].offset = plan.offset[t];
  arena.assign(plan.total);
}

// Task t: pooled rows of band t % n_tiles, channels of tile t / n_tiles.
void Engine::Impl::conv_pool_band(const Layer& L, int t, int thread) {
  const Layer& P = g.layers[size_t(L.fused_pool)];
  const KernelTable& k = variant->kernels;
  const TaskTile tt = task_tile(L, t);
  const int p0 = tt.nt * L.pool_rows, p1 = std::min(P.OH, p0 + L.pool_rows);
  const int r0 = std::max(0, p0 * P.sh - P.pt), r1 = std::min(L.OH, (p1 - 1) * P.sh - P.pt + P.kh);
  const int N = (r1 - r0) * L.OW;
  float* buf = band.data() + size_t(thread) * band_per_thread;
  L.algo->rows(L, conv_io(L, thread), r0, r1, tt.m0, tt.m1, buf);
  float* out = ptr[P.out] + size_t(tt.m0) * P.OH * P.OW;
  // Band row 0 is conv row r0: shift the pool's top padding to match. A band of all pooled rows
  // (small maps) has the output's channel stride: one call for every channel.
  if (p0 == 0 && p1 == P.OH) {
    k.maxpool({buf, r1 - r0, L.OW, P.kh, P.kw, P.sh, P.sw, P.pt + r0, P.pl, P.OH, P.OW, 0, tt.m1 - tt.m0, out});
    return;
  }
  for (int c = 0; c < tt.m1 - tt.m0; ++c)
    k.maxpool({buf + size_t(c) * N, r1 - r0, L.OW, P.kh, P.kw, P.sh, P.sw, P.pt + r0 - p0 * P.sh, P.pl, p1 - p0, P.OW,
               0, 1, out + (size_t(c) * P.OH + p0) * P.OW});
}

void Engine::Impl::resolve(const float* in) {
  float* base = arena.data();
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    // Parents are created after Concat inputs but views after their source; resolve recursively.
    size_t off = 0;
    int r = int(t);
    while (g.tensors[r].parent >= 0) {
      off += size_t(g.tensors[r].coff) * g.tensors[r].H * g.tensors[r].W;
      r = g.tensors[r].parent;
    }
    float* root = r == g.input ? const_cast<float*>(in) : base + g.tensors[r].offset;
    // a uint8 tensor's offsets count bytes; its pointer is a float* only in name
    ptr[t] = g.tensors[r].dtype == DType::U8 ? reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(root) + off) : root + off;
  }
}

void Engine::Impl::task(void* self, int t, int thread) {
  Impl& e = *static_cast<Impl*>(self);
  const Layer& L = *e.current;
  const KernelTable& k = e.variant->kernels;
  const float* in = e.ptr[L.in];
  float* out = e.ptr[L.out];
  switch (L.kind) {
    case Kind::Conv:
      if (L.fused_pool >= 0) e.conv_pool_band(L, t, thread);
      else L.algo->run(L, e.conv_io(L, thread), t);
      break;
    case Kind::MaxPool: {
      const int c0 = t * L.pool_channels, c1 = std::min(L.C, c0 + L.pool_channels);
      if (L.dtype == DType::U8)
        L.s8->maxpool({reinterpret_cast<const uint8_t*>(in), L.H, L.W, L.kh, L.kw, L.sh, L.sw, L.pt, L.pl, L.OH, L.OW, c0,
                       c1, reinterpret_cast<uint8_t*>(out)});
      else
        k.maxpool({in, L.H, L.W, L.kh, L.kw, L.sh, L.sw, L.pt, L.pl, L.OH, L.OW, c0, c1, out});
      break;
    }
    case Kind::Quantize: {
      const int c0 = t * kQuantChannels, c1 = std::min(L.C, c0 + kQuantChannels);
      const size_t hw = size_t(L.H) * L.W;
      quantize_u8(in + c0 * hw, (c1 - c0) * hw, L.out_scale, L.out_zp, reinterpret_cast<uint8_t*>(out) + c0 * hw);
      break;
    }
    case Kind::Dequantize: {
      const int c0 = t * kQuantChannels, c1 = std::min(L.C, c0 + kQuantChannels);
      const uint8_t* q = reinterpret_cast<const uint8_t*>(in);
      for (size_t i = c0 * size_t(L.H) * L.W; i < c1 * size_t(L.H) * L.W; ++i) out[i] = L.in_scale * float(int(q[i]) - L.in_zp);
      break;
    }
    case Kind::Mean:
      if (L.dtype == DType::U8)
        mean_u8(reinterpret_cast<const uint8_t*>(in), L.H * L.W, L.C, L.in_scale, L.in_zp, out);
      else
        k.mean({in, L.H * L.W, 0, L.C, out});
      break;
    case Kind::Softmax: k.softmax(in, L.C * L.H * L.W, out); break;
    case Kind::Relu: {
      const size_t n = size_t(L.C) * L.H * L.W;
      for (size_t i = 0; i < n; ++i) out[i] = std::max(in[i], 0.f);
      break;
    }
  }
}

void Engine::Impl::run_layer(const Layer& L) {
  if (L.run_by_producer) return;  // its producer pooled each band
  if (L.kind == Kind::Conv && L.algo->prepare_input)
    L.algo->prepare_input(L, variant->kernels, ptr[L.in], prepared.data());
  current = &L;
  pool->run(L.tasks(), &Impl::task, this);
}

void Engine::Impl::run_one(const float* in, float* out) {
  resolve(in);
  for (const Layer& L : g.layers) run_layer(L);
  std::memcpy(out, ptr[g.output], g.tensors[g.output].size() * sizeof(float));
}

Engine::Engine(const OnnxModel& model, int threads, const std::string& variant) : impl_(new Impl) {
  if (threads < 1 || threads > kMaxThreads)
    throw std::invalid_argument("threads must be 1.." + std::to_string(kMaxThreads) + ", got " +
                                std::to_string(threads));
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
  const size_t in_size = impl_->g.tensors[impl_->g.input].size(), out_size = output_size();
  for (int i = 0; i < batch; ++i) impl_->run_one(in + size_t(i) * in_size, out + size_t(i) * out_size);
}

void Engine::set_preprocessing(const PreprocessSpec& spec) {
  if (spec.height != input_height() || spec.width != input_width() || input_channels() != spec.channels)
    throw ModelError(impl_->source + ": preprocessing " + std::to_string(spec.channels) + "x" +
                     std::to_string(spec.height) + "x" + std::to_string(spec.width) +
                     " does not match the graph input " + std::to_string(input_channels()) + "x" +
                     std::to_string(input_height()) + "x" + std::to_string(input_width()));
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  impl_->prep.reset(new Preprocessor(spec));
  impl_->prep_buf.assign(impl_->g.tensors[impl_->g.input].size(), 0.f);
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

int Engine::input_channels() const { return impl_->g.tensors[impl_->g.input].C; }
int Engine::input_height() const { return impl_->g.tensors[impl_->g.input].H; }
int Engine::input_width() const { return impl_->g.tensors[impl_->g.input].W; }
const std::vector<int64_t>& Engine::output_shape() const { return impl_->g.out_shape; }
size_t Engine::output_size() const { return impl_->g.tensors[impl_->g.output].size(); }
const char* Engine::variant() const { return impl_->variant->name; }
int Engine::threads() const { return impl_->pool->threads(); }
const std::map<std::string, std::string>& Engine::metadata() const { return impl_->metadata; }
int64_t Engine::macs() const { return impl_->macs; }

std::vector<Engine::LayerTime> Engine::profile(const float* in) {
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  Impl& e = *impl_;
  e.resolve(in);
  std::vector<LayerTime> out;
  static const char* kinds[] = {"Conv", "MaxPool", "Mean", "Relu", "Softmax", "Quantize", "Dequantize"};
  for (const Layer& L : e.g.layers) {
    auto t0 = std::chrono::steady_clock::now();
    e.run_layer(L);
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    int64_t macs = L.kind == Kind::Conv ? int64_t(L.M) * L.K * L.OH * L.OW : 0;
    std::string kind = kinds[int(L.kind)];
    if (L.kind == Kind::Conv) kind += std::string("/") + L.algo->name;  // which table entry runs it
    else if (L.dtype == DType::U8 && L.kind < Kind::Quantize) kind += " int8";
    out.push_back({L.name, kind, macs, dt.count()});
  }
  return out;
}

}  // namespace bluefire
