// The only file of native/ that knows Python: it exposes the core as rtmaps_components._native.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "bluefire/classify_head.h"
#include "bluefire/engine.h"
#include "bluefire/onnx.h"
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
std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    s += (i ? ", " : "") + std::to_string(a.shape(i)) + (a.ndim() == 1 ? "," : "");
  return s + ")";
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
    if (mean.size() != size_t(channels) || std.size() != size_t(channels) || (channels != 1 && channels != 3))
      throw py::value_error(path + ": set_preprocessing: channels must be 1 or 3, with that many mean and std values");
    bluefire::PreprocessSpec s;
    s.height = height, s.width = width, s.channels = channels;
    s.gray = color == "gray";
    s.scale = scale;
    for (int c = 0; c < channels; ++c) s.mean[c] = mean[size_t(c)], s.std[c] = std[size_t(c)];
    s.bgr = channel_order == "BGR";
    e->set_preprocessing(s);
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

  py::array_t<float> image_call(const py::array& img, bool preprocess_only, const std::string& seq) {
    if (!e->has_preprocessing()) throw py::value_error(no_image);
    static const std::pair<const char*, std::pair<PixelLayout, int>> kSeqs[] = {{"RGB", {PixelLayout::RGB, 3}},
                                                                                {"BGR", {PixelLayout::BGR, 3}},
                                                                                {"GRAY", {PixelLayout::GRAY, 1}},
                                                                                {"RGBA", {PixelLayout::RGBA, 4}},
                                                                                {"BGRA", {PixelLayout::BGRA, 4}}};
    const std::pair<PixelLayout, int>* lay = nullptr;
    for (const auto& k : kSeqs)
      if (seq == k.first) lay = &k.second;
    if (!lay)
      throw py::value_error(path + ": run_image() takes channel_seq RGB, BGR, GRAY, RGBA or BGRA, got '" + seq + "'");
    const int nc = lay->second;
    const bool flat_gray = nc == 1 && img.ndim() == 2;
    if (!img.dtype().equal(py::dtype::of<uint8_t>()) || !(flat_gray || (img.ndim() == 3 && img.shape(2) == nc)) ||
        img.shape(0) < 1 || img.shape(1) < 1 || !(img.flags() & py::array::c_style))
      throw py::value_error(path + ": run_image() expects a uint8 C-contiguous (H, W, " + std::to_string(nc) + ") " +
                            seq + " array, got dtype " + std::string(py::str(img.dtype())) + " shape " +
                            shape_str(img));
    const int H = int(img.shape(0)), W = int(img.shape(1));
    std::vector<py::ssize_t> shape;
    if (preprocess_only) shape = {1, e->input_channels(), e->input_height(), e->input_width()};
    else
      for (int64_t d : e->output_shape()) shape.push_back(py::ssize_t(d));
    py::array_t<float> out(shape);
    const uint8_t* p = static_cast<const uint8_t*>(img.data());
    float* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      if (preprocess_only) e->preprocess(p, H, W, o, lay->first);
      else e->run_image(p, H, W, o, lay->first);
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
          [](PyEngine& s, const py::array& img, const std::string& seq) { return s.image_call(img, false, seq); },
          py::arg("img"), py::arg("channel_seq") = "RGB",
          "uint8 C-contiguous (H, W, 3) RGB of any size (or BGR, RGBA, BGRA, (H, W[, 1]) GRAY as channel_seq says) "
          "-> (num_classes,) logits, with the model's preprocessing "
          "(each resized uint8 value within 1 of rtmaps_components.preprocess, i.e. 1*scale/std after normalising).")
      .def(
          "preprocess",
          [](PyEngine& s, const py::array& img, const std::string& seq) { return s.image_call(img, true, seq); },
          py::arg("img"), py::arg("channel_seq") = "RGB",
          "Just run_image's preprocessing: float32 (1, C, H, W), C the model's input planes (3, or 1 for a "
          "single-plane gray model).")
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
}
