// The body of the x86 small-map 3x3 kernels (conv_small_avx2.cpp, conv_small_avx512.cpp): one text,
// compiled once per ISA inside each file's anonymous namespace with that file's flags. The includer
// defines first: Vec, R (output channels per panel = lanes), kMaxAcc (accumulators per row block),
// vzero, vload, vfma (w * broadcast(*x) + acc), vadd, vstore. Provides conv_small_by_size(a).
// Not a public header: no include guard, by design (each ISA file includes it exactly once).

// Output pixel p of a block starting at row Y0, tap (ky, kx): skipped at compile time on padding.
template <int H, int W, int Y0, int tap, int p>
inline void step(const float* x, Vec w, Vec* acc) {
  constexpr int iy = Y0 + p / W + tap / 3 - 1, ix = p % W + tap % 3 - 1;
  if constexpr (iy >= 0 && iy < H && ix >= 0 && ix < W) acc[p] = vfma(w, x + iy * W + ix, acc[p]);
}

template <int H, int W, int Y0, int tap, int... ps>
inline void one_tap(const float* x, const float* w, Vec* acc, std::integer_sequence<int, ps...>) {
  const Vec wv = vload(w + tap * R);
  (step<H, W, Y0, tap, ps>(x, wv, acc), ...);
}

// acc[p] += sum over the 9 taps of channel x (its H*W plane) times the panel's weights w (9 x R).
template <int H, int W, int Y0, int NY, int... taps>
inline void one_channel(const float* x, const float* w, Vec* acc, std::integer_sequence<int, taps...>) {
  (one_tap<H, W, Y0, taps>(x, w, acc, std::make_integer_sequence<int, NY * W>()), ...);
}

// Output rows [Y0, Y0 + NY) of one panel (rows m0 .. m0 + R - 1 of the packed weights ap).
template <int H, int W, int Y0, int NY>
void row_block(const Conv3x3SmallArgs& a, const float* ap, int m0) {
  constexpr int P = NY * W;
  constexpr int KU = P < 8 ? 2 : 1;  // independent accumulator sets: at least 8 FMA chains in flight
  constexpr size_t per_c = size_t(9) * R;
  constexpr int HW = H * W;
  Vec acc[KU][P];
  for (int u = 0; u < KU; ++u)
    for (int p = 0; p < P; ++p) acc[u][p] = vzero();
  int c = 0;
  for (; c + KU <= a.C; c += KU)
    for (int u = 0; u < KU; ++u)
      one_channel<H, W, Y0, NY>(a.in + size_t(c + u) * HW, ap + (c + u) * per_c, acc[u],
                                std::make_integer_sequence<int, 9>());
  for (; c < a.C; ++c)
    one_channel<H, W, Y0, NY>(a.in + size_t(c) * HW, ap + c * per_c, acc[0], std::make_integer_sequence<int, 9>());
  alignas(64) float t[P][R];
  for (int p = 0; p < P; ++p) {
    Vec s = acc[0][p];
    for (int u = 1; u < KU; ++u) s = vadd(s, acc[u][p]);
    vstore(t[p], s);
  }
  const int rows = std::min(R, a.M - m0);
  for (int i = 0; i < rows; ++i) {
    float* o = a.out + size_t(m0 + i) * HW + Y0 * W;
    const float b = a.bias[m0 + i];
    for (int p = 0; p < P; ++p) {
      const float v = t[p][i] + b;
      o[p] = a.relu ? std::max(v, 0.f) : v;
    }
  }
}

// All row blocks of a panel: NY rows at a time (as many as kMaxAcc accumulators allow).
template <int H, int W, int Y0 = 0>
void row_blocks(const Conv3x3SmallArgs& a, const float* ap, int m0) {
  if constexpr (Y0 < H) {
    constexpr int NY = std::min(H - Y0, std::max(1, kMaxAcc / W));
    row_block<H, W, Y0, NY>(a, ap, m0);
    row_blocks<H, W, Y0 + NY>(a, ap, m0);
  }
}

template <int S>
void conv_small(const Conv3x3SmallArgs& a) {
  for (int m0 = 0; m0 < a.M; m0 += R) row_blocks<S, S>(a, a.a + size_t(m0) * a.C * 9, m0);
}

using SmallFn = void (*)(const Conv3x3SmallArgs&);
constexpr SmallFn kBySize[kSmallMap + 1] = {nullptr,        nullptr,        conv_small<2>, conv_small<3>, conv_small<4>,
                                            conv_small<5>,  conv_small<6>,  conv_small<7>, conv_small<8>, conv_small<9>,
                                            conv_small<10>, conv_small<11>, conv_small<12>};

inline void conv_small_by_size(const Conv3x3SmallArgs& a) { kBySize[a.H](a); }
