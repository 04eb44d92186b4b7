// What the x86 int8 GEMMs (gemm_s8_avx2.cpp, gemm_s8_vnni.cpp) share: loading 16 bytes of a B row
// and storing 16 output bytes, for a whole or a partial block of 16 pixels. SSE2 only; internal
// linkage, so each file keeps its own copy compiled with its own ISA flags.
#pragma once
#include <immintrin.h>

#include <cstring>

#include "bluefire/kernels_s8.h"

namespace bluefire {
namespace {

constexpr int kS8Px = 16;  // pixels per block

// 16 bytes of B row k from pixel n: zero past K; past the last pixel (npx < 16) zero, or whatever
// follows when the rows may be over-read.
inline __m128i load_b_row(const GemmU8Args& a, int k, int n, int npx) {
  if (k >= a.K) return _mm_setzero_si128();
  const uint8_t* src = a.b + a.brow[k] + n;
  if (npx == kS8Px || a.b_overread) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  alignas(16) uint8_t t[kS8Px] = {};
  std::memcpy(t, src, size_t(npx));
  return _mm_load_si128(reinterpret_cast<const __m128i*>(t));
}

// The first npx of 16 output bytes.
inline void store_c_row(__m128i q, int npx, uint8_t* out) {
  if (npx == kS8Px) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), q);
  } else {
    alignas(16) uint8_t tmp[kS8Px];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), q);
    std::memcpy(out, tmp, size_t(npx));
  }
}

}  // namespace
}  // namespace bluefire
