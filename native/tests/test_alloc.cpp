// "Inference allocates nothing": the test binary replaces the global operator new with one that
// counts while a flag is set, and runs the shipped models (run and run_image, 1 and 4 threads,
// every variant) with the flag on. A vector grown inside run() or a std::function built per call
// would show up here; the engine's buffers are all sized when it is built.
#include <atomic>
#include <cstdlib>
#include <new>
#include <random>

#include "bluefire/engine.h"
#include "bluefire/preprocess.h"
#include "bluefire/registry.h"
#include "shipped_models.h"
#include "test.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};

void* counted(std::size_t n, std::size_t align) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  n = n ? n : 1;
  void* p =
      align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n);
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted(n, 0); }
void* operator new[](std::size_t n) { return counted(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted(n, std::size_t(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted(n, std::size_t(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace bluefire;

TEST(engine_inference_allocates_nothing) {
  const auto models = bftest::shipped_models();
  CHECK(!models.empty(), "no .onnx model in %s", BLUEFIRE_MODELS_DIR);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> small(28 * 28 * 3), odd(45 * 61 * 3);
  for (auto& v : small) v = uint8_t(byte(rng));
  for (auto& v : odd) v = uint8_t(byte(rng));
  // Also its own operator new: without a count here, a broken counter would pass everything.
  counting = true;
  delete new int(1);
  counting = false;
  CHECK(allocations.exchange(0) == 1, "the counting operator new is not in use");
  for (const auto& path : models)
    for (const Variant* v : available_variants())
      for (int threads : {1, 4}) {
        auto e = Engine::from_file(path.string(), threads, v->name);
        PreprocessSpec spec;
        spec.height = e->input_height(), spec.width = e->input_width(), spec.gray = true;
        spec.channels = e->input_channels();
        e->set_preprocessing(spec);
        std::vector<float> x(size_t(e->input_channels()) * e->input_height() * e->input_width(), 0.5f);
        std::vector<float> y(2 * e->output_size());
        std::vector<float> x2(2 * x.size(), 0.25f);
        e->run(x.data(), 1, y.data());  // the first call may touch lazily mapped pages, not the heap
        counting = true;
        for (int i = 0; i < 3; ++i) {
          e->run(x.data(), 1, y.data());
          e->run(x2.data(), 2, y.data());
          e->run_image(small.data(), 28, 28, y.data());
          e->run_image(odd.data(), 45, 61, y.data());
        }
        counting = false;
        long n = allocations.exchange(0);
        CHECK(n == 0, "%s, variant %s, %d thread(s): %ld heap allocations during inference", path.filename().c_str(),
              v->name, threads, n);
      }
}
