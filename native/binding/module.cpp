// The only file of native/ that knows Python: it exposes the core as rtmaps_components._native.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "bluefire/classify_head.h"
#include "bluefire/engine.h"
#include "bluefire/onnx.h"
#include "bluefire/preprocess.h"
#include "bluefire/registry.h"
#include "bluefire/version.h"

namespace py = pybind11;
using bluefire::Engine;
using bluefire::PixelLayout;

namespace {

// The largest input height or width a model may declare (rtmaps_components.preprocess.MAX_INPUT_SIDE
// is the same): a huge declared input is refused by name here, before its buffers are allocated.
constexpr int kMaxInputSide = 4096;

// Messages are built only on the error paths: run() formats nothing when its input is good.
std::string shape_str_of(const std::vector<py::ssize_t>& d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]) + (d.size() == 1 ? "," : "");
  return s + ")";
}

std::string shape_str(const py::array& a) {
  return shape_str_of(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
}

// No NaN or Inf in x[0..n): an all-ones exponent, tested branch-free so the loop vectorises.
bool all_finite(const float* x, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, 4);
    bad |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

// A str or any os.PathLike (pathlib.Path), as the Python backends accept.
std::string fspath(const py::object& p) {
  py::object s = py::module_::import("os").attr("fspath")(p);
  if (!py::isinstance<py::str>(s)) throw py::type_error("the model path must be a str or a path-like of str");
  return s.cast<std::string>();
}

// The graph's image input (the first graph input that is not an initializer), or nullptr.
const bluefire::OnnxValueInfo* image_input(const bluefire::OnnxModel& m) {
  for (const auto& vi : m.inputs)
    if (!m.initializers.count(vi.name)) return &vi;
  return nullptr;
}

// A frame run_image / Preprocessor.run may read: every check made before its memory is touched.
struct Frame {
  const uint8_t* px;
  int H, W;
  size_t bytes;
  PixelLayout layout;
};

Frame check_frame(const py::array& img, const std::string& seq, const std::string& who) {
  static const std::pair<const char*, std::pair<PixelLayout, int>> kSeqs[] = {{"RGB", {PixelLayout::RGB, 3}},
                                                                              {"BGR", {PixelLayout::BGR, 3}},
                                                                              {"GRAY", {PixelLayout::GRAY, 1}},
                                                                              {"RGBA", {PixelLayout::RGBA, 4}},
                                                                              {"BGRA", {PixelLayout::BGRA, 4}}};
  const std::pair<PixelLayout, int>* lay = nullptr;
  for (const auto& k : kSeqs)
    if (seq == k.first) lay = &k.second;
  if (!lay) throw py::value_error(who + " takes channel_seq RGB, BGR, GRAY, RGBA or BGRA, got '" + seq + "'");
  const int nc = lay->second;
  const bool flat_gray = nc == 1 && img.ndim() == 2;
  if (!img.dtype().equal(py::dtype::of<uint8_t>()) || !(flat_gray || (img.ndim() == 3 && img.shape(2) == nc)) ||
      img.shape(0) < 1 || img.shape(1) < 1 || img.shape(0) > INT_MAX / 4 || img.shape(1) > INT_MAX / 4 ||
      !(img.flags() & py::array::c_style))
    throw py::value_error(who + " expects a uint8 C-contiguous (H, W, " + std::to_string(nc) + ") " + seq + " array" +
                          (nc == 1 ? " (or (H, W))" : "") + ", got dtype " + std::string(py::str(img.dtype())) +
                          " shape " + shape_str(img) +
                          (img.flags() & py::array::c_style ? "" : " (not C-contiguous: use np.ascontiguousarray)"));
  return {static_cast<const uint8_t*>(img.data()), int(img.shape(0)), int(img.shape(1)), size_t(img.nbytes()),
          lay->first};
}

// The preprocessing contract's fields (validated in Python by rtmaps_components.preprocess.Preprocessing;
// checked again here, since the binding is public) -> the C++ spec. ValueError names `who` and the field.
bluefire::PreprocessSpec make_spec(const std::string& who, int height, int width, int channels,
                                   const std::string& color, float scale, const std::vector<float>& mean,
                                   const std::vector<float>& std, const std::string& channel_order) {
  auto bad = [&](const std::string& why) { throw py::value_error(who + ": " + why); };
  if (height < 1 || width < 1 || height > kMaxInputSide || width > kMaxInputSide)
    bad("height and width must be 1.." + std::to_string(kMaxInputSide) + ", got " + std::to_string(height) + "x" +
        std::to_string(width));
  if (mean.size() != size_t(channels) || std.size() != size_t(channels) || (channels != 1 && channels != 3))
    bad("channels must be 1 or 3, with that many mean and std values");
  if (color != "rgb" && color != "gray") bad("color must be 'rgb' or 'gray', got '" + color + "'");
  if (channels == 1 && color != "gray") bad("channels 1 needs color 'gray'");
  if (channel_order != "RGB" && channel_order != "BGR")
    bad("channel_order must be 'RGB' or 'BGR', got '" + channel_order + "'");
  if (!(std::isfinite(scale) && scale > 0)) bad("scale must be finite and > 0");
  for (int c = 0; c < channels; ++c)
    if (!std::isfinite(mean[size_t(c)]) || !(std::isfinite(std[size_t(c)]) && std[size_t(c)] > 0))
      bad("mean must be finite and std finite and > 0");
  bluefire::PreprocessSpec s;
  s.height = height, s.width = width, s.channels = channels;
  s.gray = color == "gray";
  s.scale = scale;
  for (int c = 0; c < channels; ++c) s.mean[c] = mean[size_t(c)], s.std[c] = std[size_t(c)];
  s.bgr = channel_order == "BGR";
  return s;
}

// An `out=` array a call fills: a writeable float32 C-contiguous array of `shape` that shares no memory
// with the frame it is computed from; a new array when `out_obj` is None.
py::array_t<float> out_array(const py::object& out_obj, const std::vector<py::ssize_t>& shape, const Frame& f,
                             const std::string& who) {
  if (out_obj.is_none()) return py::array_t<float>(shape);
  if (!py::isinstance<py::array>(out_obj))
    throw py::type_error(who + ": out must be a numpy array, got " +
                         std::string(py::str(py::type::of(out_obj).attr("__name__"))));
  py::array o = out_obj.cast<py::array>();
  bool shape_ok = o.ndim() == py::ssize_t(shape.size());
  for (size_t i = 0; shape_ok && i < shape.size(); ++i) shape_ok = o.shape(py::ssize_t(i)) == shape[i];
  if (!o.dtype().equal(py::dtype::of<float>()) || !shape_ok || !(o.flags() & py::array::c_style) || !o.writeable())
    throw py::value_error(who + ": out must be a writeable float32 C-contiguous " + shape_str_of(shape) +
                          " array, got dtype " + std::string(py::str(o.dtype())) + " shape " + shape_str(o) +
                          (o.writeable() ? "" : " (read-only)") +
                          (o.flags() & py::array::c_style ? "" : " (not C-contiguous)"));
  const auto* a = static_cast<const uint8_t*>(o.data());
  if (a < f.px + f.bytes && f.px < a + o.nbytes()) throw py::value_error(who + ": out shares memory with the image");
  return py::reinterpret_borrow<py::array_t<float>>(o);
}

struct PyEngine {
  std::unique_ptr<Engine> e;
  std::string path, input_name, output_name;
  std::string no_image;  // why run_image is unavailable, if it is

  PyEngine(const py::object& p, int threads, const std::string& variant) : path(fspath(p)) {
    bluefire::OnnxModel m = bluefire::read_onnx(path);
    if (const auto* vi = image_input(m)) {
      input_name = vi->name;
      for (size_t i = 2; i < vi->dims.size(); ++i)
        if (vi->dims[i] > kMaxInputSide)
          throw bluefire::ModelError(path + ": input '" + vi->name + "' declares a dimension of " +
                                     std::to_string(vi->dims[i]) + ", more than the " + std::to_string(kMaxInputSide) +
                                     " this runtime accepts");
    }
    if (!m.outputs.empty()) output_name = m.outputs[0].name;
    try {
      e.reset(new Engine(m, threads, variant));
    } catch (const std::bad_alloc&) {
      throw bluefire::ModelError(path + ": the engine's buffers for this model do not fit in memory");
    }
    no_image = path +
               ": no preprocessing set; load the model with rtmaps_components.backends.native_engine() "
               "(it reads the model's preprocessing metadata) or call set_preprocessing()";
  }

  // The preprocessing contract as plain fields, parsed and validated once, in Python
  // (rtmaps_components.preprocess.Preprocessing); nothing here reads JSON.
  void set_preprocessing(int height, int width, int channels, const std::string& color, const std::string& resize,
                         float scale, const std::vector<float>& mean, const std::vector<float>& std,
                         const std::string& channel_order) {
    if (resize != "bilinear") {
      no_image = path + ": run_image implements resize 'bilinear' only, the model asks for '" + resize +
                 "'; preprocess in Python and call run()";
      return;
    }
    e->set_preprocessing(
        make_spec(path + ": set_preprocessing", height, width, channels, color, scale, mean, std, channel_order));
    no_image.clear();
  }

  [[noreturn]] void bad_input(const py::array& x, const std::string& why) const {
    throw py::value_error(path + ": run() expects float32 C-contiguous (N, " + std::to_string(e->input_channels()) +
                          ", " + std::to_string(e->input_height()) + ", " + std::to_string(e->input_width()) +
                          "), got " + why + (why.empty() ? "shape " + shape_str(x) : std::string()));
  }

  py::array_t<float> run(const py::array& x) {
    const int C = e->input_channels(), H = e->input_height(), W = e->input_width();
    if (!x.dtype().equal(py::dtype::of<float>()))  // also refuses non-native byte order
      bad_input(x, "dtype " + std::string(py::str(x.dtype())));
    if (x.ndim() != 4 || x.shape(1) != C || x.shape(2) != H || x.shape(3) != W || x.shape(0) < 1)
      bad_input(x, "shape " + shape_str(x) + (x.ndim() == 4 && x.shape(1) != C ? " (wrong channel count)" : ""));
    if (!(x.flags() & py::array::c_style)) bad_input(x, "a non-contiguous array; use np.ascontiguousarray");
    const int n = int(x.shape(0));
    std::vector<py::ssize_t> shape = {n};
    for (int64_t d : e->output_shape()) shape.push_back(py::ssize_t(d));
    py::array_t<float> out(shape);
    const float* in = static_cast<const float*>(x.data());
    float* o = out.mutable_data();
    const size_t count = size_t(x.size());
    bool finite;
    {
      py::gil_scoped_release release;
      // Non-finite input is refused, by both backends (rtmaps_components.backends): the kernels'
      // max/ReLU would turn NaN into confident finite scores.
      finite = all_finite(in, count);
      if (finite) e->run(in, n, o);
    }
    if (!finite) {
      size_t i = 0;
      while (std::isfinite(in[i])) ++i;
      throw py::value_error(path + ": run() input holds a non-finite value (NaN or Inf) in image " +
                            std::to_string(i / (count / size_t(n))) + "; non-finite input is refused");
    }
    return out;
  }

  py::array_t<float> image_call(const py::array& img, bool preprocess_only, const std::string& seq,
                                const py::object& out_obj) {
    if (!e->has_preprocessing()) throw py::value_error(no_image);
    const std::string who = path + (preprocess_only ? ": preprocess()" : ": run_image()");
    const Frame f = check_frame(img, seq, who);
    std::vector<py::ssize_t> shape;
    if (preprocess_only) shape = {1, e->input_channels(), e->input_height(), e->input_width()};
    else
      for (int64_t d : e->output_shape()) shape.push_back(py::ssize_t(d));
    py::array_t<float> out = out_array(out_obj, shape, f, who);
    float* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      if (preprocess_only) e->preprocess(f.px, f.H, f.W, o, f.layout);
      else e->run_image(f.px, f.H, f.W, o, f.layout);
    }
    return out;
  }
};

// The model's preprocessing alone (no network): what the ONNX Runtime backend feeds its session, so
// that its input tensor is the same bytes on x86 and aarch64 (OpenCV's INTER_LINEAR is not).
struct PyPreprocessor {
  std::unique_ptr<bluefire::Preprocessor> p;
  std::mutex mu;  // the scratch rows are the object's: one frame at a time (the GIL is released)

  PyPreprocessor(int height, int width, int channels, const std::string& color, const std::string& resize, float scale,
                 const std::vector<float>& mean, const std::vector<float>& std, const std::string& channel_order) {
    if (resize != "bilinear")
      throw py::value_error("Preprocessor: resize must be 'bilinear' (the one the native code implements), got '" +
                            resize + "'");
    p.reset(new bluefire::Preprocessor(
        make_spec("Preprocessor", height, width, channels, color, scale, mean, std, channel_order)));
  }

  py::array_t<float> run(const py::array& img, const std::string& seq, const py::object& out_obj) {
    const auto& s = p->spec();
    const Frame f = check_frame(img, seq, "Preprocessor.run()");
    const std::vector<py::ssize_t> shape = {1, s.channels, s.height, s.width};
    py::array_t<float> out = out_array(out_obj, shape, f, "Preprocessor.run()");
    float* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(mu);
      p->run(f.px, f.H, f.W, o, f.layout);
    }
    return out;
  }
};

// softmax_topk's arguments: 1-D C-contiguous arrays of the right dtype and sizes, outputs writable.
template <typename T>
T* head_array(const py::array& a, const char* name, py::ssize_t n, bool writable) {
  if (!a.dtype().equal(py::dtype::of<T>()) || a.ndim() != 1 || a.shape(0) != n || !(a.flags() & py::array::c_style) ||
      (writable && !a.writeable()))
    throw py::value_error(std::string("softmax_topk: ") + name + " must be a " + (writable ? "writable " : "") +
                          "C-contiguous 1-D " + std::string(py::str(py::dtype::of<T>())) + " array of " +
                          std::to_string(n) + " values, got dtype " + std::string(py::str(a.dtype())) + " shape " +
                          shape_str(a));
  return static_cast<T*>(const_cast<void*>(a.data()));
}

int softmax_topk_py(const py::array& logits, const py::array& probs, const py::array& topk) {
  if (logits.ndim() != 1 || logits.shape(0) < 1)
    throw py::value_error("softmax_topk: logits must be a 1-D array of at least one value, got shape " +
                          shape_str(logits));
  const py::ssize_t n = logits.shape(0);
  const float* l = head_array<float>(logits, "logits", n, false);
  float* p = head_array<float>(probs, "probs", n, true);
  const py::ssize_t k = topk.ndim() == 1 ? topk.shape(0) : 0;
  if (k < 1 || k > n) throw py::value_error("softmax_topk: topk must hold 1 to " + std::to_string(n) + " classes");
  int32_t* t = head_array<int32_t>(topk, "topk", k, true);
  if (!all_finite(l, size_t(n))) throw py::value_error("softmax_topk: the logits hold a non-finite value");
  return bluefire::softmax_topk(l, int(n), p, t, int(k));
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "bluefire native SqueezeNet engine (C++ core; see native/README.md)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const bluefire::ModelError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  m.attr("MAX_THREADS") = Engine::kMaxThreads;
  m.attr("MAX_MODEL_BYTES") = py::int_(bluefire::kMaxModelBytes);
  m.attr("MAX_INPUT_SIDE") = kMaxInputSide;
  m.def("version", &bluefire::version, "Version of the C++ core.");
  m.def("softmax_topk", &softmax_topk_py, py::arg("logits"), py::arg("probs"), py::arg("topk"),
        "float32 (n,) logits -> probs (float32 (n,), filled) and topk (int32 (k,), filled: the k most probable "
        "classes, best first, ties to the lower index); returns the best class. Allocates nothing.");
  m.def(
      "available_variants",
      [] {
        std::vector<std::string> v;
        for (const auto* x : bluefire::available_variants()) v.push_back(x->name);
        return v;
      },
      "Kernel variants this CPU can run, best first; 'ref' (the scalar reference) is last.");
  m.def(
      "detected_variant", [] { return std::string(bluefire::detected_variant().name); },
      "The variant Engine(variant='auto') uses on this CPU.");
  py::class_<PyEngine>(m, "Engine", "A SqueezeNet ONNX model built for native inference.")
      .def(
          py::init<const py::object&, int, const std::string&>(), py::arg("onnx_path"), py::arg("threads") = 1,
          py::arg("variant") = "auto",
          "Build the engine from a regular file of at most MAX_MODEL_BYTES (str or path-like); threads 1..MAX_THREADS. "
          "run_image/preprocess need set_preprocessing (rtmaps_components.backends.native_engine does it).")
      .def("set_preprocessing", &PyEngine::set_preprocessing, py::arg("height"), py::arg("width"), py::arg("channels"),
           py::arg("color"), py::arg("resize"), py::arg("scale"), py::arg("mean"), py::arg("std"),
           py::arg("channel_order"),
           "The model's preprocessing, as validated fields of rtmaps_components.preprocess.Preprocessing.")
      .def_property_readonly("input_name", [](const PyEngine& s) { return s.input_name; })
      .def_property_readonly("output_name", [](const PyEngine& s) { return s.output_name; })
      .def("run", &PyEngine::run, py::arg("x"),
           "float32 C-contiguous (N, C, H, W) at the model's input planes and size -> float32 (N, num_classes) logits.")
      .def(
          "run_image",
          [](PyEngine& s, const py::array& img, const std::string& seq, const py::object& out) {
            return s.image_call(img, false, seq, out);
          },
          py::arg("img"), py::arg("channel_seq") = "RGB", py::arg("out") = py::none(),
          "uint8 C-contiguous (H, W, 3) RGB of any size (or BGR, RGBA, BGRA, (H, W[, 1]) GRAY as channel_seq says) "
          "-> (num_classes,) logits, with the model's preprocessing "
          "(each resized uint8 value within 1 of rtmaps_components.preprocess, i.e. 1*scale/std after normalising). "
          "out: a float32 (num_classes,) array to fill and return instead of a new one (the per-frame path).")
      .def(
          "preprocess",
          [](PyEngine& s, const py::array& img, const std::string& seq, const py::object& out) {
            return s.image_call(img, true, seq, out);
          },
          py::arg("img"), py::arg("channel_seq") = "RGB", py::arg("out") = py::none(),
          "Just run_image's preprocessing: float32 (1, C, H, W), C the model's input planes (3, or 1 for a "
          "single-plane gray model); out: a float32 (1, C, H, W) array to fill instead.")
      .def_property_readonly("variant", [](const PyEngine& s) { return std::string(s.e->variant()); })
      .def_property_readonly("threads", [](const PyEngine& s) { return s.e->threads(); })
      .def_property_readonly(
          "split_layers", [](const PyEngine& s) { return s.e->split_layers(); },
          "Layers run over the thread pool (measured at build; BLUEFIRE_SPLIT=always|never fixes it).")
      .def_property_readonly("calibration_seconds", [](const PyEngine& s) { return s.e->calibration_seconds(); })
      .def_property_readonly("num_classes", [](const PyEngine& s) { return py::int_(s.e->output_size()); })
      .def_property_readonly("input_size",
                             [](const PyEngine& s) { return py::make_tuple(s.e->input_height(), s.e->input_width()); })
      .def_property_readonly(
          "input_channels", [](const PyEngine& s) { return s.e->input_channels(); },
          "Input planes: 3, or 1 for a gray model exported with one plane.")
      .def_property_readonly("metadata", [](const PyEngine& s) { return s.e->metadata(); })
      .def(
          "profile",
          [](PyEngine& s, const py::array_t<float, py::array::c_style | py::array::forcecast>& x) {
            if (x.size() != py::ssize_t(s.e->input_channels()) * s.e->input_height() * s.e->input_width())
              throw py::value_error(s.path + ": profile() expects one image (1, C, H, W) at the input size");
            py::list out;
            for (const auto& t : s.e->profile(x.data()))
              out.append(py::make_tuple(t.name, t.kind, t.macs, t.seconds, t.split));
            return out;
          },
          py::arg("x"), "One timed pass: [(layer, kind, macs, seconds, split over the pool)], for benchmarks.")
      .def_property_readonly(
          "macs", [](const PyEngine& s) { return s.e->macs(); },
          "Direct-convolution multiply-accumulates per image, less taps skipped on 1x1 maps.");
  py::class_<PyPreprocessor>(m, "Preprocessor",
                             "The model's preprocessing alone, in C++ (the code Engine.run_image uses): "
                             "bit-identical output on x86 and aarch64.")
      .def(py::init<int, int, int, const std::string&, const std::string&, float, const std::vector<float>&,
                    const std::vector<float>&, const std::string&>(),
           py::arg("height"), py::arg("width"), py::arg("channels"), py::arg("color"), py::arg("resize"),
           py::arg("scale"), py::arg("mean"), py::arg("std"), py::arg("channel_order"),
           "The fields Engine.set_preprocessing takes (rtmaps_components.backends.native_preprocessor builds one "
           "from a model's Preprocessing); resize must be 'bilinear'.")
      .def("run", &PyPreprocessor::run, py::arg("img"), py::arg("channel_seq") = "RGB", py::arg("out") = py::none(),
           "uint8 C-contiguous (H, W, 3) RGB of any size (or BGR, RGBA, BGRA, (H, W[, 1]) GRAY as channel_seq says) "
           "-> float32 (1, C, height, width), written into `out` when given (a float32 C-contiguous array of that "
           "shape, reused) and returned. Each resized uint8 value within 1 of rtmaps_components.preprocess's.")
      .def_property_readonly("shape", [](const PyPreprocessor& s) {
        const auto& sp = s.p->spec();
        return py::make_tuple(1, sp.channels, sp.height, sp.width);
      });
}
