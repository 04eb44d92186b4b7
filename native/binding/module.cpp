// The only file of native/ that knows Python: it exposes the core as rtmaps_components._native.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <sstream>

#include "bluefire/engine.h"
#include "bluefire/registry.h"
#include "bluefire/version.h"

namespace py = pybind11;
using bluefire::Engine;
using bluefire::PixelLayout;

namespace {

std::string shape_str(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i) << (a.ndim() == 1 ? "," : "");
  os << ")";
  return os.str();
}

// The model's preprocessing from its 'bluefire.preprocessing' metadata (parsed with Python's json).
// Returns why run_image cannot be used ("" when it can); run() never depends on it.
std::string load_preprocessing(Engine& e, const std::string& source) {
  auto it = e.metadata().find("bluefire.preprocessing");
  if (it == e.metadata().end())
    return source + ": no 'bluefire.preprocessing' metadata; export the model with `bluefire export`";
  py::dict d;
  try {
    d = py::module_::import("json").attr("loads")(it->second);
  } catch (py::error_already_set&) {
    throw py::value_error(source + ": 'bluefire.preprocessing' is not valid JSON");
  }
  try {
    bluefire::PreprocessSpec s;
    py::list size = d["input_size"];
    s.height = size[0].cast<int>(), s.width = size[1].cast<int>();
    if (d.contains("color")) s.gray = d["color"].cast<std::string>() == "gray";
    if (d.contains("resize") && d["resize"].cast<std::string>() != "bilinear")
      return source + ": run_image implements resize 'bilinear' only, the model asks for '" +
             d["resize"].cast<std::string>() + "'; preprocess in Python and call run()";
    if (d.contains("scale")) s.scale = d["scale"].cast<float>();
    if (d.contains("channels")) s.channels = d["channels"].cast<int>();
    if (s.channels != 1 && s.channels != 3)
      throw py::value_error(source + ": bad 'bluefire.preprocessing': channels must be 1 or 3");
    for (const char* key : {"mean", "std"})
      if (d.contains(key) && py::len(d[key]) != size_t(s.channels))
        throw py::value_error(source + ": bad 'bluefire.preprocessing': " + key + " needs " +
                              std::to_string(s.channels) + " value(s)");
    for (int c = 0; c < s.channels; ++c) {
      if (d.contains("mean")) s.mean[c] = py::list(d["mean"])[c].cast<float>();
      if (d.contains("std")) s.std[c] = py::list(d["std"])[c].cast<float>();
    }
    if (d.contains("channel_order")) s.bgr = d["channel_order"].cast<std::string>() == "BGR";
    e.set_preprocessing(s);
  } catch (py::cast_error& err) {
    throw py::value_error(source + ": bad 'bluefire.preprocessing': " + err.what());
  }
  return "";
}

struct PyEngine {
  std::unique_ptr<Engine> e;
  std::string path;
  std::string no_image;  // why run_image is unavailable, if it is

  PyEngine(const std::string& p, int threads, const std::string& variant) : path(p) {
    e = Engine::from_file(p, threads, variant);
    no_image = load_preprocessing(*e, p);
  }

  py::array_t<float> run(const py::array& x) {
    const int C = e->input_channels(), H = e->input_height(), W = e->input_width();
    std::ostringstream want;
    want << "float32 C-contiguous (N, " << C << ", " << H << ", " << W << ")";
    if (!x.dtype().equal(py::dtype::of<float>()))  // also refuses non-native byte order
      throw py::value_error(path + ": run() expects " + want.str() + ", got dtype " + std::string(py::str(x.dtype())));
    if (x.ndim() != 4 || x.shape(1) != C || x.shape(2) != H || x.shape(3) != W || x.shape(0) < 1)
      throw py::value_error(path + ": run() expects " + want.str() + ", got shape " + shape_str(x) +
                            (x.ndim() == 4 && x.shape(1) != C ? " (wrong channel count)" : ""));
    if (!(x.flags() & py::array::c_style))
      throw py::value_error(path + ": run() expects a C-contiguous array " + want.str() + "; use np.ascontiguousarray");
    const int n = int(x.shape(0));
    std::vector<py::ssize_t> shape = {n};
    for (int64_t d : e->output_shape()) shape.push_back(py::ssize_t(d));
    py::array_t<float> out(shape);
    const float* in = static_cast<const float*>(x.data());
    float* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      e->run(in, n, o);
    }
    return out;
  }

  py::array_t<float> image_call(const py::array& img, bool preprocess_only, const std::string& seq) {
    if (!no_image.empty()) throw py::value_error(no_image);
    static const std::pair<const char*, std::pair<PixelLayout, int>> kSeqs[] = {
        {"RGB", {PixelLayout::RGB, 3}}, {"BGR", {PixelLayout::BGR, 3}}, {"GRAY", {PixelLayout::GRAY, 1}},
        {"RGBA", {PixelLayout::RGBA, 4}}, {"BGRA", {PixelLayout::BGRA, 4}}};
    const std::pair<PixelLayout, int>* lay = nullptr;
    for (const auto& k : kSeqs)
      if (seq == k.first) lay = &k.second;
    if (!lay) throw py::value_error(path + ": run_image() takes channel_seq RGB, BGR, GRAY, RGBA or BGRA, got '" + seq + "'");
    const int nc = lay->second;
    const bool flat_gray = nc == 1 && img.ndim() == 2;
    if (!img.dtype().equal(py::dtype::of<uint8_t>()) || !(flat_gray || (img.ndim() == 3 && img.shape(2) == nc)) ||
        img.shape(0) < 1 || img.shape(1) < 1 || !(img.flags() & py::array::c_style))
      throw py::value_error(path + ": run_image() expects a uint8 C-contiguous (H, W, " + std::to_string(nc) + ") " +
                            seq + " array, got dtype " + std::string(py::str(img.dtype())) + " shape " + shape_str(img));
    const int H = int(img.shape(0)), W = int(img.shape(1));
    std::vector<py::ssize_t> shape;
    if (preprocess_only) shape = {1, e->input_channels(), e->input_height(), e->input_width()};
    else for (int64_t d : e->output_shape()) shape.push_back(py::ssize_t(d));
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
  m.def("version", &bluefire::version, "Version of the C++ core.");
  m.def("available_variants", [] {
    std::vector<std::string> v;
    for (const auto* x : bluefire::available_variants()) v.push_back(x->name);
    return v;
  }, "Kernel variants this CPU can run, best first; 'ref' (the scalar reference) is last.");
  m.def("detected_variant", [] { return std::string(bluefire::detected_variant().name); },
        "The variant Engine(variant='auto') uses on this CPU.");
  py::class_<PyEngine>(m, "Engine", "A SqueezeNet ONNX model built for native inference.")
      .def(py::init<const std::string&, int, const std::string&>(), py::arg("onnx_path"), py::arg("threads") = 1,
           py::arg("variant") = "auto")
      .def("run", &PyEngine::run, py::arg("x"),
           "float32 C-contiguous (N, C, H, W) at the model's input planes and size -> float32 (N, num_classes) logits.")
      .def("run_image", [](PyEngine& s, const py::array& img, const std::string& seq) { return s.image_call(img, false, seq); },
           py::arg("img"), py::arg("channel_seq") = "RGB",
           "uint8 C-contiguous (H, W, 3) RGB of any size (or BGR, RGBA, BGRA, (H, W[, 1]) GRAY as channel_seq says) "
           "-> (num_classes,) logits, with the model's preprocessing "
           "(each resized uint8 value within 1 of rtmaps_components.preprocess, i.e. 1*scale/std after normalising).")
      .def("preprocess", [](PyEngine& s, const py::array& img, const std::string& seq) { return s.image_call(img, true, seq); },
           py::arg("img"), py::arg("channel_seq") = "RGB",
           "Just run_image's preprocessing: float32 (1, C, H, W), C the model's input planes (3, or 1 for a single-plane gray model).")
      .def_property_readonly("variant", [](const PyEngine& s) { return std::string(s.e->variant()); })
      .def_property_readonly("threads", [](const PyEngine& s) { return s.e->threads(); })
      .def_property_readonly("num_classes", [](const PyEngine& s) { return py::int_(s.e->output_size()); })
      .def_property_readonly("input_size", [](const PyEngine& s) { return py::make_tuple(s.e->input_height(), s.e->input_width()); })
      .def_property_readonly("input_channels", [](const PyEngine& s) { return s.e->input_channels(); },
                             "Input planes: 3, or 1 for a gray model exported with one plane.")
      .def_property_readonly("metadata", [](const PyEngine& s) { return s.e->metadata(); })
      .def("profile", [](PyEngine& s, const py::array_t<float, py::array::c_style | py::array::forcecast>& x) {
             if (x.size() != py::ssize_t(s.e->input_channels()) * s.e->input_height() * s.e->input_width())
               throw py::value_error(s.path + ": profile() expects one image (1, C, H, W) at the input size");
             py::list out;
             for (const auto& t : s.e->profile(x.data())) out.append(py::make_tuple(t.name, t.kind, t.macs, t.seconds));
             return out;
           }, py::arg("x"), "One timed pass: [(layer, kind, macs, seconds)], for benchmarks.")
      .def_property_readonly("macs", [](const PyEngine& s) { return s.e->macs(); },
                             "Direct-convolution multiply-accumulates per image, less taps skipped on 1x1 maps.");
}
