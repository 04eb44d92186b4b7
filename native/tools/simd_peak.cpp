// One thread's multiply-accumulate peak per instruction kind, for training.floor's int8-vs-fp32
// arithmetic (native/README.md, int8): fp32 FMA (AVX-512, AVX2) against the int8 instructions the
// int8 kernels use: AVX-512 VNNI vpdpbusd (64 u8 x s8 MACs per zmm instruction) and AVX2 vpmaddwd
// + vpaddd (16 MACs per ymm pair, 16-bit products). 12 independent accumulators per loop, so
// throughput, not latency, bounds it (vpmaddwd + vpaddd: a 2-instruction chain of ~4 cycles, 12
// chains: throughput-bound too); best of 20 repeats. Built and run by simd_peak.sh.
#include <immintrin.h>

#include <chrono>
#include <cstdio>

namespace {
constexpr int kAcc = 12;
constexpr long kIters = 2'000'000;

template <class F>
double best_seconds(F f) {
  double best = 1e9;
  for (int r = 0; r < 20; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = s < best ? s : best;
  }
  return best;
}

// Keeps every accumulator live without taking the array's address (which would put it in memory
// and bound the loop by store-to-load forwarding instead of the multiply-accumulate units).
#define SINK(acc) _Pragma("GCC unroll 16") for (int i = 0; i < kAcc; ++i) asm volatile("" : : "v"(acc[i]))

__attribute__((target("avx512f"))) void fma512(float x) {
  __m512 acc[kAcc];
  const __m512 a = _mm512_set1_ps(x), b = _mm512_set1_ps(1.0001f);
#pragma GCC unroll 16
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(float(i));
  for (long n = 0; n < kIters; ++n)
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) {
      acc[i] = _mm512_fmadd_ps(acc[i], b, a);
      asm volatile("" : "+v"(acc[i]));
    }
  SINK(acc);
}

__attribute__((target("avx2,fma"))) void fma256(float x) {
  __m256 acc[kAcc];
  const __m256 a = _mm256_set1_ps(x), b = _mm256_set1_ps(1.0001f);
#pragma GCC unroll 16
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_ps(float(i));
  for (long n = 0; n < kIters; ++n)
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) {
      acc[i] = _mm256_fmadd_ps(acc[i], b, a);
      asm volatile("" : "+x"(acc[i]));
    }
  SINK(acc);
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void vnni512(int x) {
  __m512i acc[kAcc];
  const __m512i a = _mm512_set1_epi32(x), b = _mm512_set1_epi32(0x01020304);
#pragma GCC unroll 16
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_epi32(i);
  for (long n = 0; n < kIters; ++n)
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) {
      acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
      asm volatile("" : "+v"(acc[i]));
    }
  SINK(acc);
}

__attribute__((target("avx2"))) void madd256(int x) {
  __m256i acc[kAcc];
  const __m256i b = _mm256_set1_epi32(0x00030004);
#pragma GCC unroll 16
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_epi32(i + x);
  for (long n = 0; n < kIters; ++n)
#pragma GCC unroll 16
    for (int i = 0; i < kAcc; ++i) {
      acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(acc[i], b));  // (a constant input would be hoisted)
      asm volatile("" : "+x"(acc[i]));
    }
  SINK(acc);
}

void report(const char* name, int macs_per_insn, double seconds) {
  const double insns = double(kIters) * kAcc;
  std::printf("%-40s %6.1f G MAC/s  (%d MACs per instruction, %.2f G instructions/s)\n", name,
              insns * macs_per_insn / seconds / 1e9, macs_per_insn, insns / seconds / 1e9);
}
}  // namespace

int main(int argc, char**) {
  __builtin_cpu_init();
  const float fx = float(argc) * 0.5f;
  if (__builtin_cpu_supports("avx512f"))
    report("fp32 FMA zmm (vfmadd, 16 lanes)", 16, best_seconds([&] { fma512(fx); }));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    report("fp32 FMA ymm (vfmadd, 8 lanes)", 8, best_seconds([&] { fma256(fx); }));
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw"))
    report("int8 vpdpbusd zmm (u8 x s8, 4 per lane)", 64, best_seconds([&] { vnni512(argc); }));
  if (__builtin_cpu_supports("avx2"))
    report("int8 vpmaddwd + vpaddd ymm (16-bit)", 16, best_seconds([&] { madd256(argc); }));
  return 0;
}
