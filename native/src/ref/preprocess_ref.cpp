// The scalar reference of the preprocessing (preprocess_ref.h), and the definitions it shares with
// the optimized Preprocessor (preprocess_common.h): the spec's checks and the normalisation table.
#include "ref/preprocess_ref.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "preprocess_common.h"

namespace bluefire {
namespace prep {

void check_spec(const PreprocessSpec& s) {
  if (s.height < 1 || s.width < 1) throw std::invalid_argument("preprocessing input_size must be positive");
  if (s.channels != 1 && s.channels != 3) throw std::invalid_argument("preprocessing channels must be 1 or 3");
  if (s.channels == 1 && !s.gray) throw std::invalid_argument("preprocessing channels 1 needs color 'gray'");
  for (int c = 0; c < s.channels; ++c)
    if (!(s.std[c] > 0)) throw std::invalid_argument("preprocessing std must be > 0");
}

void normalisation_table(const PreprocessSpec& s, float* lut) {
  // Every resized value is an integer 0..255: its normalised float per channel, once. The steps are
  // numpy's (Preprocessing.normalize): float32 v*scale, then - mean, then / std, each rounded. The
  // product is formed in double, where it is exact (8 x 24 bits), and rounded to float once: the same
  // float as a float32 multiply, and never fusable with the subtraction into an FMA (GCC contracts
  // a*b-c by default on aarch64; the build also passes -ffp-contract=off). So the table, and every
  // output, is bit-identical on x86 and aarch64 and to numpy's normalisation of the same uint8 values.
  for (int c = 0; c < s.channels; ++c)
    for (int v = 0; v < 256; ++v) {
      const float scaled = float(double(v) * double(s.scale));
      const float centred = scaled - s.mean[c];
      lut[size_t(c) * 256 + size_t(v)] = centred / s.std[c];
    }
}

}  // namespace prep

using namespace prep;

PreprocessorRef::PreprocessorRef(const PreprocessSpec& s) : spec_(s) {
  check_spec(s);
  xofs_.resize(size_t(s.width));
  alpha_.resize(2 * size_t(s.width));
  row0_.resize(3 * size_t(s.width));
  row1_.resize(3 * size_t(s.width));
  vals_.resize(3 * size_t(s.width));
  lut_.resize(size_t(s.channels) * 256);
  normalisation_table(s, lut_.data());
}

void PreprocessorRef::emit_row(int y, const int* vals) {
  const int h = spec_.height, w = spec_.width;
  for (int ch = 0; ch < spec_.channels; ++ch) {  // one plane: the luma (all three channels hold it)
    const int plane = spec_.bgr && spec_.channels == 3 ? 2 - ch : ch;
    float* dst = out_ + (size_t(plane) * h + y) * w;
    const float* lut = lut_.data() + size_t(ch) * 256;
    const int cs = spec_.gray ? 1 : 3, c = spec_.gray ? 0 : ch;  // a gray row holds one value per pixel
    for (int x = 0; x < w; ++x) dst[x] = lut[vals[cs * x + c]];  // vals are 0..255 (clamped / exact)
  }
}

void PreprocessorRef::run(const uint8_t* px, int H, int W, float* out, PixelLayout layout) {
  if (H < 1 || W < 1) throw std::invalid_argument("image must be at least 1x1");
  out_ = out;
  const int h = spec_.height, w = spec_.width;
  const bool gray = spec_.gray;
  const Layout L = layout_of(layout);
  const int n = L.n, off[3] = {L.r, L.g, L.b};
  const int cs = gray ? 1 : 3;  // values per pixel in the row buffers: the luma alone for a gray model
  auto value = [&](const uint8_t* p, int ch) { return gray ? luma(p[L.r], p[L.g], p[L.b]) : int(p[off[ch]]); };
  auto load_row = [&](int sy, int* dst, bool interpolate) {
    const uint8_t* row = px + size_t(sy) * W * n;
    for (int x = 0; x < w; ++x) {
      const int sx = interpolate ? xofs_[x] : x;
      const uint8_t* p = row + size_t(sx) * n;
      const int a0 = interpolate ? alpha_[2 * x] : 1, a1 = interpolate ? alpha_[2 * x + 1] : 0;
      const bool two = interpolate && sx + 1 < W;
      for (int ch = 0; ch < cs; ++ch) {
        int v0 = value(p, ch);
        int v1 = two ? value(p + n, ch) : 0;
        dst[cs * x + ch] = v0 * a0 + v1 * a1;
      }
    }
  };

  if (H == h && W == w) {  // Python skips the resize too
    for (int y = 0; y < h; ++y) {
      load_row(y, vals_.data(), false);
      emit_row(y, vals_.data());
    }
    return;
  }
  if (H == 2 * h && W == 2 * w) {  // OpenCV turns an exact 2x INTER_LINEAR downscale into INTER_AREA
    for (int y = 0; y < h; ++y) {
      const uint8_t* r0 = px + size_t(2 * y) * W * n;
      const uint8_t* r1 = r0 + size_t(W) * n;
      for (int x = 0; x < w; ++x)
        for (int ch = 0; ch < cs; ++ch) {
          const uint8_t *p0 = r0 + 2 * n * x, *p1 = r1 + 2 * n * x;
          int s = value(p0, ch) + value(p0 + n, ch) + value(p1, ch) + value(p1 + n, ch);
          vals_[cs * x + ch] = (s + 2) >> 2;
        }
      emit_row(y, vals_.data());
    }
    return;
  }
  const double scale_x = double(W) / w, scale_y = double(H) / h;
  for (int x = 0; x < w; ++x) {
    int sx;
    float fx;
    source_column(x, scale_x, W, &sx, &fx);
    xofs_[x] = sx;
    alpha_[2 * x] = coef(1.f - fx);
    alpha_[2 * x + 1] = coef(fx);
  }
  int y0 = -1, y1 = -1;  // the source rows row0_ / row1_ hold, horizontally resized: each is resized once
  for (int y = 0; y < h; ++y) {
    int sy;
    float fy;
    source_of(y, scale_y, &sy, &fy);
    const int b0 = coef(1.f - fy), b1 = coef(fy);
    const int a = std::clamp(sy, 0, H - 1), b = std::clamp(sy + 1, 0, H - 1);
    if (a != y0 && a == y1) {  // moving down by one source row: the lower row becomes the upper one
      std::swap(row0_, row1_);
      std::swap(y0, y1);
    }
    if (a != y0) load_row(a, row0_.data(), true), y0 = a;
    if (b != y1) load_row(b, row1_.data(), true), y1 = b;
    for (int i = 0; i < cs * w; ++i) {  // OpenCV's SIMD rounding: (hi16((s0>>4)*b0) + hi16((s1>>4)*b1) + 2) >> 2
      int r = (((row0_[i] >> 4) * b0) >> 16) + (((row1_[i] >> 4) * b1) >> 16);
      vals_[i] = std::clamp((r + 2) >> 2, 0, 255);
    }
    emit_row(y, vals_.data());
  }
}

}  // namespace bluefire
