// ONNX graph -> layer list; see graph.h. Every refusal names the file, the node and the reason.
#include "engine/graph.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

namespace bluefire {
namespace {

std::string where(const OnnxModel& m, const OnnxNode& n) {
  return m.source + ": node '" + (n.name.empty() ? n.outputs.empty() ? "?" : n.outputs[0] : n.name) + "' (" +
         n.op_type + ")";
}

}  // namespace

Graph parse_graph(const OnnxModel& m) {
  Graph g;
  std::map<std::string, int> ids;
  std::map<std::string, int> consumers;
  for (const auto& n : m.nodes)
    for (const auto& i : n.inputs) ++consumers[i];
  for (const auto& o : m.outputs) ++consumers[o.name];
  std::vector<int> producer;  // layer index that writes each tensor, -1 for none

  auto new_tensor = [&](const std::string& name, int C, int H, int W) {
    Tensor t;
    t.C = C, t.H = H, t.W = W;
    t.shape = {C, H, W};
    g.tensors.push_back(t);
    producer.push_back(-1);
    ids[name] = int(g.tensors.size()) - 1;
    return int(g.tensors.size()) - 1;
  };
  auto tensor_of = [&](const OnnxModel& mm, const OnnxNode& n, size_t i) {
    if (i >= n.inputs.size() || n.inputs[i].empty())
      throw ModelError(where(mm, n) + ": missing input " + std::to_string(i));
    auto it = ids.find(n.inputs[i]);
    if (it == ids.end())
      throw ModelError(where(mm, n) + ": input '" + n.inputs[i] + "' is not computed before it (or is a constant)");
    return it->second;
  };
  auto init_of = [&](const OnnxNode& n, size_t i) -> const OnnxTensor* {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return nullptr;
    auto it = m.initializers.find(n.inputs[i]);
    if (it == m.initializers.end())
      throw ModelError(where(m, n) + ": input '" + n.inputs[i] + "' must be an initializer");
    return &it->second;
  };

  // QDQ (int8 files): DequantizeLinear of an initializer is a quantized constant (conv weights and
  // biases); QuantizeLinear / DequantizeLinear of activations give uint8 tensors (see below).
  struct QConst {
    const OnnxTensor* q;
    std::vector<float> scale;  // one, or one per output channel (axis 0)
  };
  std::map<std::string, QConst> qconst;
  auto scalar_f = [&](const OnnxNode& n, size_t i) {
    const OnnxTensor* t = init_of(n, i);
    if (!t || t->data_type != 1 || t->numel() != 1)
      throw ModelError(where(m, n) + ": the scale must be a float32 scalar initializer");
    if (!(t->floats[0] > 0)) throw ModelError(where(m, n) + ": the scale must be positive");
    return t->floats[0];
  };
  auto act_zp = [&](const OnnxNode& n) {
    const OnnxTensor* t = n.inputs.size() > 2 ? init_of(n, 2) : nullptr;
    if (!t) throw ModelError(where(m, n) + ": a uint8 zero point is required (int8 activations are not supported)");
    if (t->data_type != 2 || t->numel() != 1)
      throw ModelError(where(m, n) + ": the zero point must be a uint8 scalar (int8 activations are not supported)");
    return int(t->ints[0]);
  };

  // The one image input.
  for (const auto& vi : m.inputs) {
    if (m.initializers.count(vi.name)) continue;
    if (g.input >= 0) throw ModelError(m.source + ": the graph has more than one input");
    if (vi.elem_type != 1) throw ModelError(m.source + ": input '" + vi.name + "' must be float32");
    if (vi.dims.size() != 4 || vi.dims[1] < 1 || vi.dims[2] < 1 || vi.dims[3] < 1)
      throw ModelError(m.source + ": input '" + vi.name + "' must be [batch, C, H, W] with static C, H, W");
    g.input = new_tensor(vi.name, int(vi.dims[1]), int(vi.dims[2]), int(vi.dims[3]));
  }
  if (g.input < 0) throw ModelError(m.source + ": the graph has no input");

  for (const auto& n : m.nodes) {
    const std::string& op = n.op_type;
    if (!n.domain.empty() && n.domain != "ai.onnx")
      throw ModelError(where(m, n) + ": operator domain '" + n.domain + "' is not supported");
    if (n.outputs.size() < 1) throw ModelError(where(m, n) + ": no output");
    if (op == "DequantizeLinear" && m.initializers.count(n.inputs.empty() ? "" : n.inputs[0])) {
      const OnnxTensor* q = init_of(n, 0);
      const OnnxTensor* sc = init_of(n, 1);
      const OnnxTensor* zp = n.inputs.size() > 2 ? init_of(n, 2) : nullptr;
      if (q->data_type != 3 && q->data_type != 6)
        throw ModelError(where(m, n) + ": quantized constants must be int8 (weights) or int32 (biases)");
      if (!sc || sc->data_type != 1 || (sc->numel() != 1 && (q->dims.empty() || sc->numel() != q->dims[0])))
        throw ModelError(where(m, n) + ": the scale must be float32, one value or one per output channel");
      if (sc->numel() > 1 && n.attr_int("axis", 1) != 0)
        throw ModelError(where(m, n) + ": per-channel scales must be on axis 0 (output channels)");
      if (zp)
        for (int64_t v : zp->ints)
          if (v != 0) throw ModelError(where(m, n) + ": weights and biases must be symmetric (zero point 0)");
      for (float v : sc->floats)
        if (!(v > 0)) throw ModelError(where(m, n) + ": the scales must be positive");
      qconst[n.outputs[0]] = {q, sc->floats};
      continue;
    }
    if (op == "QuantizeLinear") {
      const int x = tensor_of(m, n, 0);
      const float scale = scalar_f(n, 1);
      const int zp = act_zp(n);
      Tensor& t = g.tensors[x];
      const int p = producer[x];
      if (t.dtype == DType::U8) {  // a Concat of uint8 halves, or a uint8 max-pool: already quantized
        if (t.scale != scale || t.zp != zp)
          throw ModelError(where(m, n) + ": requantizing a uint8 tensor to another scale is not supported");
        ids[n.outputs[0]] = x;
      } else if (p >= 0 && g.layers[p].kind == Kind::Conv && g.layers[p].dtype == DType::U8 && t.parent < 0 &&
                 consumers[n.inputs[0]] == 1) {
        t.dtype = DType::U8, t.scale = scale, t.zp = zp;  // the int8 convolution writes uint8
        g.layers[p].out_scale = scale, g.layers[p].out_zp = zp;
        ids[n.outputs[0]] = x;
      } else {
        if (t.parent >= 0 || t.shape.size() != 3)
          throw ModelError(where(m, n) + ": only a 4-D float tensor can be quantized here");
        Layer L;
        L.kind = Kind::Quantize;
        L.name = n.name;
        L.dtype = DType::U8;
        L.in = x;
        L.C = t.C, L.H = t.H, L.W = t.W;
        L.out_scale = scale, L.out_zp = zp;
        L.out = new_tensor(n.outputs[0], t.C, t.H, t.W);
        g.tensors[L.out].dtype = DType::U8, g.tensors[L.out].scale = scale, g.tensors[L.out].zp = zp;
        producer[L.out] = int(g.layers.size());
        g.layers.push_back(std::move(L));
      }
      continue;
    }
    if (op == "DequantizeLinear") {  // of an activation: consumers read the uint8 tensor itself
      const int x = tensor_of(m, n, 0);
      const Tensor& t = g.tensors[x];
      if (t.dtype != DType::U8 || t.scale != scalar_f(n, 1) || t.zp != act_zp(n))
        throw ModelError(where(m, n) +
                         ": must dequantize a uint8 tensor with the scale and zero point it was quantized with");
      ids[n.outputs[0]] = x;
      continue;
    }
    if (op == "Conv") {
      int x = tensor_of(m, n, 0);
      const OnnxTensor* w = qconst.count(n.inputs.size() > 1 ? n.inputs[1] : "") ? nullptr : init_of(n, 1);
      const OnnxTensor* b = n.inputs.size() > 2 && !qconst.count(n.inputs[2]) ? init_of(n, 2) : nullptr;
      const QConst* qw = n.inputs.size() > 1 && qconst.count(n.inputs[1]) ? &qconst[n.inputs[1]] : nullptr;
      const QConst* qb = n.inputs.size() > 2 && qconst.count(n.inputs[2]) ? &qconst[n.inputs[2]] : nullptr;
      const bool int8 = g.tensors[x].dtype == DType::U8;
      if (int8 && (!qw || qw->q->data_type != 3))
        throw ModelError(where(m, n) + ": a uint8 input needs int8 weights (DequantizeLinear of an int8 initializer)");
      if (qw) w = qw->q;
      if (!w || (w->data_type != 1 && !qw) || w->dims.size() != 4)
        throw ModelError(where(m, n) + ": weight must be a float32 [M, C, kh, kw] initializer");
      const Tensor& tx = g.tensors[x];
      if (n.attr_int("group", 1) != 1) throw ModelError(where(m, n) + ": grouped convolution is not supported");
      for (int64_t d : n.attr_ints("dilations"))
        if (d != 1) throw ModelError(where(m, n) + ": dilation other than 1 is not supported");
      std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
      if (auto_pad != "NOTSET" && auto_pad != "VALID")
        throw ModelError(where(m, n) + ": auto_pad '" + auto_pad + "' is not supported");
      Layer L;
      L.kind = Kind::Conv;
      L.name = n.name;
      L.M = int(w->dims[0]);
      L.C = tx.C, L.H = tx.H, L.W = tx.W;
      L.kh = int(w->dims[2]), L.kw = int(w->dims[3]);
      if (w->dims[1] != tx.C)
        throw ModelError(where(m, n) + ": weight '" + w->name + "' expects " + std::to_string(w->dims[1]) +
                         " input channels, its input has " + std::to_string(tx.C));
      auto ks = n.attr_ints("kernel_shape");
      if (!ks.empty() && (ks.size() != 2 || ks[0] != L.kh || ks[1] != L.kw))
        throw ModelError(where(m, n) + ": kernel_shape disagrees with the weight's shape");
      auto st = n.attr_ints("strides");
      if (!st.empty()) {
        if (st.size() != 2 || st[0] < 1 || st[1] < 1) throw ModelError(where(m, n) + ": bad strides");
        L.sh = int(st[0]), L.sw = int(st[1]);
      }
      auto pads = n.attr_ints("pads");
      if (!pads.empty() && auto_pad == "NOTSET") {
        if (pads.size() != 4) throw ModelError(where(m, n) + ": pads must have 4 values");
        for (int64_t p : pads)
          if (p < 0 || p >= 64) throw ModelError(where(m, n) + ": bad pads");
        L.pt = int(pads[0]), L.pl = int(pads[1]), L.pb = int(pads[2]), L.pr = int(pads[3]);
      }
      L.OH = (L.H + L.pt + L.pb - L.kh) / L.sh + 1;
      L.OW = (L.W + L.pl + L.pr - L.kw) / L.sw + 1;
      if (L.H + L.pt + L.pb < L.kh || L.W + L.pl + L.pr < L.kw || L.OH < 1 || L.OW < 1)
        throw ModelError(where(m, n) + ": the kernel is larger than its padded " + std::to_string(L.H) + "x" +
                         std::to_string(L.W) + " input");
      if ((b && (b->data_type != 1 || b->numel() != L.M)) || (qb && qb->q->numel() != L.M))
        throw ModelError(where(m, n) + ": bias must be float32 (or a dequantized int32) with " + std::to_string(L.M) +
                         " values");
      L.bias = b ? b->floats : std::vector<float>(size_t(L.M), 0.f);  // a missing bias is zeros (ONNX spec)
      if (qb)
        for (int o = 0; o < L.M; ++o) L.bias[o] = float(qb->q->ints[o]) * qb->scale[qb->scale.size() > 1 ? o : 0];
      L.K = L.C * L.kh * L.kw;
      const size_t per = size_t(L.K);
      if (qw) {
        auto ws = [&](size_t o) { return qw->scale[qw->scale.size() > 1 ? o : 0]; };
        if (int8) {  // an int8 convolution: integer weights and biases as the file has them
          L.dtype = DType::U8;
          L.in_scale = g.tensors[x].scale, L.in_zp = g.tensors[x].zp;
          L.qweights.assign(w->ints.begin(), w->ints.end());
          for (size_t o = 0; o < size_t(L.M); ++o) L.wscale.push_back(ws(o));
          L.qbias.resize(size_t(L.M));
          for (int o = 0; o < L.M; ++o) {
            const double s = double(L.in_scale) * L.wscale[o];
            const bool same =
                qb && qb->q->data_type == 6 && std::fabs(qb->scale[qb->scale.size() > 1 ? o : 0] - s) <= 1e-6 * s;
            L.qbias[o] = same ? int32_t(qb->q->ints[o]) : int32_t(std::llround(double(L.bias[o]) / s));
          }
        } else {  // float activations with quantized weights: run it in float
          L.weights.resize(w->ints.size());
          for (size_t i = 0; i < w->ints.size(); ++i) L.weights[i] = float(w->ints[i]) * ws(i / per);
        }
      } else {
        L.weights = w->floats;
      }
      L.in = x;
      L.out = new_tensor(n.outputs[0], L.M, L.OH, L.OW);
      producer[L.out] = int(g.layers.size());
      g.layers.push_back(std::move(L));
    } else if (op == "Relu") {
      int x = tensor_of(m, n, 0);
      if (g.tensors[x].dtype == DType::U8)
        throw ModelError(where(m, n) + ": a Relu on a uint8 tensor is not supported");
      int p = producer[x];
      if (p >= 0 && g.layers[p].kind == Kind::Conv && !g.layers[p].relu && consumers[n.inputs[0]] == 1) {
        g.layers[p].relu = true;  // fused: the Relu's output is the conv's output
        ids[n.outputs[0]] = x;
        continue;
      }
      Layer L;
      L.kind = Kind::Relu;
      L.name = n.name;
      L.in = x;
      const Tensor& t = g.tensors[x];
      L.C = t.C, L.H = t.H, L.W = t.W;
      L.out = new_tensor(n.outputs[0], t.C, t.H, t.W);
      g.tensors[L.out].shape = g.tensors[x].shape;
      producer[L.out] = int(g.layers.size());
      g.layers.push_back(std::move(L));
    } else if (op == "MaxPool") {
      int x = tensor_of(m, n, 0);
      const Tensor& t = g.tensors[x];
      if (t.shape.size() != 3) throw ModelError(where(m, n) + ": input must be 4-D");
      auto ks = n.attr_ints("kernel_shape"), st = n.attr_ints("strides"), pads = n.attr_ints("pads");
      if (ks.size() != 2 || ks[0] < 1 || ks[1] < 1)
        throw ModelError(where(m, n) + ": kernel_shape must have 2 positive values");
      for (int64_t d : n.attr_ints("dilations"))
        if (d != 1) throw ModelError(where(m, n) + ": dilation other than 1 is not supported");
      if (n.attr_string("auto_pad", "NOTSET") != "NOTSET" && n.attr_string("auto_pad", "NOTSET") != "VALID")
        throw ModelError(where(m, n) + ": auto_pad other than NOTSET/VALID is not supported");
      if (n.attr_int("storage_order", 0) != 0 || n.outputs.size() > 1)
        throw ModelError(where(m, n) + ": indices output / storage_order are not supported");
      Layer L;
      L.kind = Kind::MaxPool;
      L.name = n.name;
      L.kh = int(ks[0]), L.kw = int(ks[1]);
      if (!st.empty()) {
        if (st.size() != 2 || st[0] < 1 || st[1] < 1) throw ModelError(where(m, n) + ": bad strides");
        L.sh = int(st[0]), L.sw = int(st[1]);
      }
      int pb = 0, pr = 0;
      if (!pads.empty() && n.attr_string("auto_pad", "NOTSET") == "NOTSET") {
        if (pads.size() != 4) throw ModelError(where(m, n) + ": pads must have 4 values");
        for (int64_t p : pads)
          if (p < 0 || p >= ks[0] || p >= ks[1])
            throw ModelError(where(m, n) + ": pads must be smaller than the kernel");
        L.pt = int(pads[0]), L.pl = int(pads[1]), pb = int(pads[2]), pr = int(pads[3]);
      }
      L.C = t.C, L.H = t.H, L.W = t.W;
      const bool ceil = n.attr_int("ceil_mode", 0) != 0;
      auto out_size = [&](int in, int k, int s, int p0, int p1) {
        int span = in + p0 + p1 - k;  // may be negative: ceil_mode lets a window hang over the edge
        if (span < 0 && !ceil) return 0;
        int o = (ceil ? (span >= 0 ? (span + s - 1) / s : -(-span / s)) : span / s) + 1;
        if (ceil && (o - 1) * s >= in + p0) --o;  // the last window must start inside the input
        return o;
      };
      L.OH = out_size(L.H, L.kh, L.sh, L.pt, pb);
      L.OW = out_size(L.W, L.kw, L.sw, L.pl, pr);
      if (L.OH < 1 || L.OW < 1)
        throw ModelError(where(m, n) + ": the pooling window is larger than its " + std::to_string(L.H) + "x" +
                         std::to_string(L.W) + " input");
      L.in = x;
      L.out = new_tensor(n.outputs[0], L.C, L.OH, L.OW);
      if (g.tensors[x].dtype == DType::U8) {  // max commutes with the monotone quantizer: same scale
        L.dtype = DType::U8;
        Tensor& o = g.tensors[L.out];
        o.dtype = DType::U8, o.scale = g.tensors[x].scale, o.zp = g.tensors[x].zp;
      }
      producer[L.out] = int(g.layers.size());
      g.layers.push_back(std::move(L));
    } else if (op == "Concat") {
      int64_t axis = n.attr_int("axis", 1);
      if (axis != 1 && axis != -3) throw ModelError(where(m, n) + ": only channel concatenation (axis 1) is supported");
      std::vector<int> xs;
      int C = 0;
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        int x = tensor_of(m, n, i);
        const Tensor& t = g.tensors[x];
        if (t.shape.size() != 3 || t.H != g.tensors[tensor_of(m, n, 0)].H || t.W != g.tensors[tensor_of(m, n, 0)].W)
          throw ModelError(where(m, n) + ": inputs must be 4-D with equal height and width");
        if (x == g.input || t.parent >= 0 || std::count(xs.begin(), xs.end(), x))
          throw ModelError(where(m, n) + ": input '" + n.inputs[i] +
                           "' is the graph input, repeated, or already inside another Concat (not supported)");
        xs.push_back(x);
        C += t.C;
      }
      const Tensor& first = g.tensors[xs[0]];
      for (int x : xs)
        if (g.tensors[x].dtype != first.dtype || g.tensors[x].scale != first.scale || g.tensors[x].zp != first.zp)
          throw ModelError(where(m, n) + ": inputs must all be float32, or all uint8 with one scale and zero point");
      const DType dt = first.dtype;
      const float cs = first.scale;
      const int cz = first.zp;
      int out = new_tensor(n.outputs[0], C, g.tensors[xs[0]].H, g.tensors[xs[0]].W);
      g.tensors[out].dtype = dt, g.tensors[out].scale = cs, g.tensors[out].zp = cz;
      int coff = 0;
      for (int x : xs) {  // each producer writes straight into its slice: no copy
        g.tensors[x].parent = out;
        g.tensors[x].coff = coff;
        coff += g.tensors[x].C;
      }
    } else if (op == "ReduceMean" || op == "GlobalAveragePool") {
      int x = tensor_of(m, n, 0);
      const Tensor& t = g.tensors[x];
      if (t.shape.size() != 3) throw ModelError(where(m, n) + ": input must be 4-D");
      bool keep = true;
      if (op == "ReduceMean") {
        std::vector<int64_t> axes = n.attr_ints("axes");
        if (n.inputs.size() > 1 && !n.inputs[1].empty()) axes = init_of(n, 1)->ints;
        std::set<int64_t> a;
        for (int64_t v : axes) a.insert(v < 0 ? v + 4 : v);
        if (a != std::set<int64_t>{2, 3}) throw ModelError(where(m, n) + ": only a mean over axes [2, 3] is supported");
        keep = n.attr_int("keepdims", 1) != 0;
      }
      Layer L;
      L.kind = Kind::Mean;
      L.name = n.name;
      if (t.dtype == DType::U8) L.dtype = DType::U8, L.in_scale = t.scale, L.in_zp = t.zp;  // dequantized mean
      L.in = x;
      L.C = t.C, L.H = t.H, L.W = t.W;
      L.out = new_tensor(n.outputs[0], t.C, 1, 1);
      if (!keep) g.tensors[L.out].shape = {t.C};
      producer[L.out] = int(g.layers.size());
      g.layers.push_back(std::move(L));
    } else if (op == "Softmax") {
      // Over all of an image's values: [N, C] on axis 1/-1, or [N, C, 1, 1] on axis 1.
      int x = tensor_of(m, n, 0);
      const Tensor& t = g.tensors[x];
      const int64_t axis = n.attr_int("axis", -1), rank = int64_t(t.shape.size()) + 1;
      const bool whole =
          (rank == 2 && (axis == 1 || axis == -1)) || (rank == 4 && t.H == 1 && t.W == 1 && (axis == 1 || axis == -3));
      if (t.dtype == DType::U8) throw ModelError(where(m, n) + ": a Softmax on a uint8 tensor is not supported");
      if (!whole)
        throw ModelError(where(m, n) + ": only a softmax over the class axis of [N, C] (or [N, C, 1, 1]) is supported");
      Layer L;
      L.kind = Kind::Softmax;
      L.name = n.name;
      L.in = x;
      L.C = t.C, L.H = t.H, L.W = t.W;
      L.out = new_tensor(n.outputs[0], t.C, t.H, t.W);
      g.tensors[L.out].shape = t.shape;
      producer[L.out] = int(g.layers.size());
      g.layers.push_back(std::move(L));
    } else if (op == "Reshape" || op == "Flatten" || op == "Identity" || op == "Dropout") {
      int x = tensor_of(m, n, 0);
      std::vector<int64_t> shape = g.tensors[x].shape;
      const int64_t numel = int64_t(g.tensors[x].size());
      if (op == "Flatten") {
        if (n.attr_int("axis", 1) != 1) throw ModelError(where(m, n) + ": only axis 1 is supported");
        shape = {numel};
      } else if (op == "Reshape") {
        const OnnxTensor* s = init_of(n, 1);
        if (!s || s->ints.empty()) throw ModelError(where(m, n) + ": the shape must be an int64 initializer");
        shape.assign(s->ints.begin() + 1, s->ints.end());  // entry 0 is the batch
        int64_t known = 1, infer = -1;
        for (size_t i = 0; i < shape.size(); ++i) {
          if (shape[i] == -1 && infer < 0) infer = int64_t(i);
          else if (shape[i] > 0) known *= shape[i];
          else throw ModelError(where(m, n) + ": unsupported shape entry " + std::to_string(shape[i]));
        }
        if (infer >= 0 && known > 0 && numel % known == 0) shape[size_t(infer)] = numel / known;
        int64_t got = 1;
        for (int64_t v : shape) got *= v;
        if (got != numel)
          throw ModelError(where(m, n) + ": cannot reshape " + std::to_string(numel) + " values per image");
      }
      // A view: the same storage under a new name, and the graph's shape for it.
      if (shape != g.tensors[x].shape) {
        Tensor v = g.tensors[x];
        g.tensors.push_back(v);
        producer.push_back(producer[x]);
        int id = int(g.tensors.size()) - 1;
        g.tensors[id].parent = x;
        g.tensors[id].coff = 0;
        g.tensors[id].shape = shape;
        ids[n.outputs[0]] = id;
      } else {
        ids[n.outputs[0]] = x;
      }
    } else {
      throw ModelError(where(m, n) + ": operator '" + op + "' is not supported by the native engine");
    }
  }
  if (m.outputs.size() != 1) throw ModelError(m.source + ": the graph must have exactly one output");
  auto it = ids.find(m.outputs[0].name);
  if (it == ids.end()) throw ModelError(m.source + ": output '" + m.outputs[0].name + "' is never computed");
  g.output = it->second;
  if (g.tensors[g.output].dtype == DType::U8) {  // a graph that ends in DequantizeLinear: dequantize into the output
    const Tensor t = g.tensors[g.output];
    Layer L;
    L.kind = Kind::Dequantize;
    L.name = m.outputs[0].name;
    L.dtype = DType::U8;
    L.in = g.output;
    L.C = t.C, L.H = t.H, L.W = t.W;
    L.in_scale = t.scale, L.in_zp = t.zp;
    L.out = new_tensor(m.outputs[0].name, t.C, t.H, t.W);
    g.tensors[L.out].shape = t.shape;
    g.layers.push_back(std::move(L));
    g.output = g.layers.back().out;
  }
  for (const Layer& L : g.layers)
    if (L.kind == Kind::Conv && L.dtype == DType::U8 && g.tensors[L.out].dtype != DType::U8)
      throw ModelError(m.source + ": int8 convolution '" + L.name +
                       "' must be followed by a QuantizeLinear (after its Relu)");
  g.out_shape = g.tensors[g.output].shape;
  if (g.layers.empty()) throw ModelError(m.source + ": the graph computes nothing");

  return g;
}

}  // namespace bluefire
