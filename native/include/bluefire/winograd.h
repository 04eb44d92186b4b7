// Winograd F(2x2, 3x3) for stride-1, pad-1 3x3 convolutions (the Fire expand3x3): each 2x2 output
// tile costs 16 multiplies per (in, out) channel pair instead of 36, i.e. 2.25x fewer. The
// transforms are data movement shared by every variant; the 16 per-tile-position products are
// GEMMs run by the variant's own gemm kernel. The scalar reference never uses this path: it is
// the oracle the Winograd variants are tested against.
#pragma once
#include <cstddef>

namespace bluefire {

// w: M x C x 3 x 3 -> u: 16 matrices of M x C (u[t * M * C + m * C + c]), u = G w G^T.
void winograd_weights(const float* w, int M, int C, float* u);

// Tiles [t0, t1) of a map padded to PH x PW (one zero row/column before, enough after for whole
// 4x4 patches); tile t is at (t / TX, t % TX). v: 16 matrices `ms` floats apart, row c holding
// tile t - t0 at v[i * ms + c * ld + t - t0], v = B^T d B. Keep ms off multiples of 1024 floats:
// 16 streams 4 KiB apart thrash the L1's sets.
void winograd_input(const float* padded, int PH, int PW, int C, int TX, int t0, int t1, float* v, int ld, size_t ms);

// mo: 16 matrices `ms` floats apart of M rows (mo[i * ms + m * ld + t - t0]) -> out (M x OH x OW)
// for tiles [t0, t1), y = A^T mo A + bias, optionally ReLU; outputs past OH/OW are dropped.
void winograd_output(const float* mo, int M, int ld, size_t ms, int TX, int t0, int t1, const float* bias, bool relu,
                     float* out, int OH, int OW);

}  // namespace bluefire

namespace bluefire {

// Winograd F(4x4, 3x3): 36 products per 4x4 output tile (F(2x2) needs 64 for the same 16 outputs).
// Its transforms are variant kernels (KernelTable::winograd4_input/output, see kernels.h); only the
// weight transform is shared. w: M x C x 3 x 3 -> u: 36 matrices of M x C, u = G w G^T.
void winograd4_weights(const float* w, int M, int C, float* u);

}  // namespace bluefire
