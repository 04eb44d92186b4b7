// The body of the channel-vectorised F(4x4) small-map kernels, one text for every ISA: compiled once
// per ISA inside the anonymous namespace of winograd4_channels_avx2.cpp (8 channels per ymm),
// winograd4_channels_avx512.cpp (16 per zmm) and arm/winograd4_channels_neon.cpp (4 per q register),
// each with its own flags; the method is described in the AVX-512 file.
// The includer includes <algorithm> and defines first:
//  - Vec, L (lanes = channels per vector = output channels per weight panel), vzero, vload, vstore,
//    vbcast (*p in every lane), vset1, vadd, vsub, vmul, vmax, vfmadd (a * b + c), vfnmadd (c - a * b), transpose (r[i]
//    lane j
//    -> r[j] lane i, L x L) and load_block(src, HW, nc, np, r) (r[i] = the np pixels at src + i * HW
//    for i < nc, zero elsewhere);
//  - block_panels(T): panels of L output channels per product block with T tiles, i.e. the
//    block's shape, PB panels x T tiles of accumulators held in registers (1..6);
//  - kTileChannels: input channels per tile operand of the products, 1 (broadcast) or 4 (by lane,
//    with the includer's vfmadd_lane); see products below.
// Provides winograd4_channels_by_size(a) and winograd4_channels_scratch_floats(S, C).
// Not a public header: no include guard, by design (each ISA file includes it exactly once).

// o = B^T d for one column of 6 (the F(4x4) input transform's rows; see winograd4_input_ref).
inline void bt6(const Vec d[6], Vec o[6]) {
  const Vec four = vset1(4.f), five = vset1(5.f), two = vset1(2.f);
  const Vec a = vfnmadd(four, d[2], d[4]);  // d4 - 4 d2
  const Vec b = vfnmadd(four, d[1], d[3]);  // d3 - 4 d1
  const Vec c = vsub(d[4], d[2]);
  const Vec e = vmul(two, vsub(d[3], d[1]));
  o[0] = vfnmadd(five, d[2], vfmadd(four, d[0], d[4]));
  o[1] = vadd(a, b);
  o[2] = vsub(a, b);
  o[3] = vadd(c, e);
  o[4] = vsub(c, e);
  o[5] = vfnmadd(five, d[3], vfmadd(four, d[1], d[5]));
}

// o = A^T m for one column of 6 (the output transform's rows; see winograd4_output_ref).
inline void at6(const Vec m[6], Vec o[4]) {
  const Vec s12 = vadd(m[1], m[2]), d12 = vsub(m[1], m[2]);
  const Vec s34 = vadd(m[3], m[4]), d34 = vsub(m[3], m[4]);
  o[0] = vadd(vadd(m[0], s12), s34);
  o[1] = vfmadd(vset1(2.f), d34, d12);
  o[2] = vfmadd(vset1(4.f), s34, s12);
  o[3] = vadd(vfmadd(vset1(8.f), d34, d12), m[5]);
}

// Step 3 in two forms, chosen by the includer's kTileChannels (G):
//  - G = 1 (x86): per input channel, PB weight loads, then per tile one broadcast of that channel
//    (vbcast; an embedded-broadcast operand on AVX-512) feeding PB FMAs;
//  - G = 4 (NEON): per 4 input channels, one load of each tile's 4 channels, then per channel l, PB
//    weight loads and PB * T FMAs by element (vfmadd_lane<l>: FMLA vA.4s, vB.4s, vC.s[l], no DUP).
// vfmadd_lane(a, x, c) = a * lane l of x + c; only an ISA with G > 1 defines it. (The broadcast form
// stays its own loop: written as the G = 1 case of the lane form, GCC 12 kept the AVX2 1-panel
// blocks' accumulators on the stack.)
template <int l>
Vec vfmadd_lane(Vec a, Vec x, Vec c);

// Input channel c + l (lane l of the tile vectors x) into the block's accumulators: PB weight loads
// (panel p at w + p * us), PB * T FMAs by element. l is a template parameter: FMLA's lane is an immediate.
template <int T, int PB, int l>
inline void lane_fmas(const float* w, size_t us, const Vec x[T], Vec acc[PB][T]) {
  Vec wv[PB];
  for (int p = 0; p < PB; ++p) wv[p] = vload(w + p * us);
  for (int p = 0; p < PB; ++p)
    for (int t = 0; t < T; ++t) acc[p][t] = vfmadd_lane<l>(wv[p], x[t], acc[p][t]);
}

// Products of panels [0, PB) (weights u: panel p, product k, channel c at u + p * us + (k * C + c)
// * L) with the T transformed tiles v (product k, tile t, channel c at v[(k * T + t) * ldv + c]):
// mo[((k * T + t) * PB + p) * L + lane]. Each accumulator sums its channels in order c = 0..C-1.
template <int T, int PB>
void products(const float* u, int C, const float* v, int ldv, float* mo) {
  static_assert(kTileChannels == 1 || kTileChannels == 4, "by lane: unrolled for 4 channels per tile vector");
  const size_t us = size_t(36) * C * L;
  for (int k = 0; k < 36; ++k) {
    Vec acc[PB][T];
    for (int p = 0; p < PB; ++p)
      for (int t = 0; t < T; ++t) acc[p][t] = vzero();
    const float* uk = u + size_t(k) * C * L;
    const float* vk = v + size_t(k) * T * ldv;
    if constexpr (kTileChannels == 1) {
      for (int c = 0; c < C; ++c) {
        Vec w[PB];
        for (int p = 0; p < PB; ++p) w[p] = vload(uk + p * us + size_t(c) * L);
        for (int t = 0; t < T; ++t) {
          const Vec x = vbcast(vk + t * ldv + c);
          for (int p = 0; p < PB; ++p) acc[p][t] = vfmadd(w[p], x, acc[p][t]);
        }
      }
    } else {
      int c = 0;
      for (; c + 4 <= C; c += 4) {
        Vec x[T];
        for (int t = 0; t < T; ++t) x[t] = vload(vk + t * ldv + c);
        const float* w = uk + size_t(c) * L;
        lane_fmas<T, PB, 0>(w, us, x, acc);
        lane_fmas<T, PB, 1>(w + L, us, x, acc);
        lane_fmas<T, PB, 2>(w + 2 * L, us, x, acc);
        lane_fmas<T, PB, 3>(w + 3 * L, us, x, acc);
      }
      if (c < C) {  // 1-3 channels left: only their lanes (the weights stop at channel C - 1)
        Vec x[T];
        for (int t = 0; t < T; ++t) x[t] = vload(vk + t * ldv + c);  // inside V: ldv = C rounded up to 4
        const float* w = uk + size_t(c) * L;
        lane_fmas<T, PB, 0>(w, us, x, acc);
        if (C - c > 1) lane_fmas<T, PB, 1>(w + L, us, x, acc);
        if (C - c > 2) lane_fmas<T, PB, 2>(w + 2 * L, us, x, acc);
      }
    }
    for (int t = 0; t < T; ++t)
      for (int p = 0; p < PB; ++p) vstore(mo + ((size_t(k) * T + t) * PB + p) * L, acc[p][t]);
  }
}

template <int S>
struct Shape {
  static constexpr int TS = (S + 3) / 4, T = TS * TS;      // tiles a side, tiles
  static constexpr int PP = 4 * TS + 2;                    // padded side covering every tile's 6x6 patch
  static constexpr int HW = S * S, NB = (HW + L - 1) / L;  // pixels, L-pixel blocks
  static constexpr int MaxPB = block_panels(T);            // panels per block (the includer's shape)
  static_assert(1 <= MaxPB && MaxPB <= 6, "products are instantiated for 1..6 panels");
};

template <int S>
void winograd4_channels(const Conv3x3SmallArgs& a) {
  using Sh = Shape<S>;
  constexpr int T = Sh::T, TS = Sh::TS, PP = Sh::PP, HW = Sh::HW, NB = Sh::NB;
  const int C = a.C, CG = (C + L - 1) / L, ldv = CG * L;
  float* P = a.scratch;                            // PP x PP x L
  float* V = P + PP * PP * L;                      // 36 x T x ldv
  float* mo = V + size_t(36) * T * ldv;            // 36 x T x MaxPB x L
  float* O = mo + size_t(36) * T * Sh::MaxPB * L;  // NB * L pixels x L

  // 1-2. Input: channel-minor padded map, then B^T d B per tile, L channels at a time.
  std::fill(P, P + PP * PP * L, 0.f);
  for (int g = 0; g < CG; ++g) {
    const int nc = std::min(L, C - L * g);
    for (int b = 0; b < NB; ++b) {
      const int np = std::min(L, HW - L * b);
      Vec r[L];
      load_block(a.in + size_t(L * g) * HW + L * b, HW, nc, np, r);
      transpose(r);
      for (int j = 0; j < np; ++j) {
        const int p = L * b + j, y = p / S + 1, x = p % S + 1;
        vstore(P + (y * PP + x) * L, r[j]);
      }
    }
    for (int t = 0; t < T; ++t) {
      const int y0 = 4 * (t / TS), x0 = 4 * (t % TS);
      Vec tmp[6][6];
      for (int k = 0; k < 6; ++k) {  // columns: tmp[.][k] = B^T d[.][k]
        Vec d[6], o[6];
        for (int r = 0; r < 6; ++r) d[r] = vload(P + ((y0 + r) * PP + x0 + k) * L);
        bt6(d, o);
        for (int i = 0; i < 6; ++i) tmp[i][k] = o[i];
      }
      for (int i = 0; i < 6; ++i) {  // rows: V[i][j] = sum_k tmp[i][k] B^T[j][k]
        Vec o[6];
        bt6(tmp[i], o);
        for (int j = 0; j < 6; ++j) vstore(V + (size_t(i * 6 + j) * T + t) * ldv + L * g, o[j]);
      }
    }
  }

  // 3-4. Blocks of PB panels: 36 GEMMs, then the output transform of each panel.
  const int NP = (a.M + L - 1) / L;
  const int nblk = (NP + Sh::MaxPB - 1) / Sh::MaxPB, pb = (NP + nblk - 1) / nblk;
  const size_t us = size_t(36) * C * L;
  for (int p0 = 0; p0 < NP; p0 += pb) {
    const int n = std::min(pb, NP - p0);
    const float* u = a.a + p0 * us;
    switch (n) {
      case 1: products<T, 1>(u, C, V, ldv, mo); break;
      case 2:
        if constexpr (Sh::MaxPB >= 2) products<T, 2>(u, C, V, ldv, mo);
        break;
      case 3:
        if constexpr (Sh::MaxPB >= 3) products<T, 3>(u, C, V, ldv, mo);
        break;
      case 4:
        if constexpr (Sh::MaxPB >= 4) products<T, 4>(u, C, V, ldv, mo);
        break;
      case 5:
        if constexpr (Sh::MaxPB >= 5) products<T, 5>(u, C, V, ldv, mo);
        break;
      default:
        if constexpr (Sh::MaxPB >= 6) products<T, 6>(u, C, V, ldv, mo);
        break;
    }
    for (int p = 0; p < n; ++p) {
      const int m0 = L * (p0 + p), rows = std::min(L, a.M - m0);
      alignas(64) float bb[L] = {};
      std::copy(a.bias + m0, a.bias + m0 + rows, bb);
      const Vec bias = vload(bb);
      for (int t = 0; t < T; ++t) {
        const int y0 = 4 * (t / TS), x0 = 4 * (t % TS);
        Vec tmp[4][6];
        for (int k = 0; k < 6; ++k) {  // columns: tmp[.][k] = A^T m[.][k]
          Vec m[6], o[4];
          for (int i = 0; i < 6; ++i) m[i] = vload(mo + ((size_t(i * 6 + k) * T + t) * n + p) * L);
          at6(m, o);
          for (int r = 0; r < 4; ++r) tmp[r][k] = o[r];
        }
        for (int r = 0; r < 4; ++r) {
          if (y0 + r >= S) break;
          Vec o[4];
          at6(tmp[r], o);
          for (int c = 0; c < 4 && x0 + c < S; ++c) {
            Vec y = vadd(o[c], bias);
            if (a.relu) y = vmax(y, vzero());
            vstore(O + ((y0 + r) * S + x0 + c) * L, y);
          }
        }
      }
      float* out = a.out + size_t(m0) * HW;
      for (int b = 0; b < HW / L; ++b) {  // whole L-pixel runs of each channel's plane
        Vec r[L];
        for (int j = 0; j < L; ++j) r[j] = vload(O + (L * b + j) * L);
        transpose(r);
        for (int i = 0; i < rows; ++i) vstore(out + size_t(i) * HW + L * b, r[i]);
      }
      for (int i = 0; i < rows; ++i)
        for (int q = HW / L * L; q < HW; ++q) out[size_t(i) * HW + q] = O[q * L + i];
    }
  }
}

using Fn = void (*)(const Conv3x3SmallArgs&);
constexpr Fn kBySize[kSmallMap + 1] = {nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       winograd4_channels<5>,
                                       winograd4_channels<6>,
                                       winograd4_channels<7>,
                                       winograd4_channels<8>,
                                       winograd4_channels<9>,
                                       winograd4_channels<10>,
                                       winograd4_channels<11>,
                                       winograd4_channels<12>};

inline void winograd4_channels_by_size(const Conv3x3SmallArgs& a) { kBySize[a.H](a); }

// The channel-minor padded map, the transformed input, one block's products (up to block_panels(T)
// panels) and one panel's output pixels, as winograd4_channels<S> lays them out.
inline size_t winograd4_channels_scratch_floats(int S, int C) {
  const int TS = (S + 3) / 4, T = TS * TS, PP = 4 * TS + 2, ldv = (C + L - 1) / L * L;
  const int maxpb = block_panels(T), nb = (S * S + L - 1) / L;
  return size_t(PP) * PP * L + size_t(36) * T * ldv + size_t(36) * T * maxpb * L + size_t(nb) * L * L;
}
