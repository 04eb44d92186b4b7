// ONNX protobuf wire-format reader. Every read is bounds-checked; malformed input is a ModelError
// naming the file, the message being parsed and the byte offset.
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "bluefire/onnx.h"

namespace bluefire {
namespace {

class Reader {
 public:
  Reader(const uint8_t* p, size_t n, size_t base, const std::string* src, const char* what)
      : p_(p), n_(n), base_(base), src_(src), what_(what) {}

  bool done() const { return pos_ >= n_; }

  [[noreturn]] void fail(const std::string& msg) const {
    throw ModelError(*src_ + ": malformed ONNX file: " + msg + " in " + what_ + " at byte " +
                     std::to_string(base_ + pos_));
  }

  // An integer the engine will hold in an int (dimensions, attribute values): a value outside int's
  // range is refused here, never truncated later (a dimension of 2^32+16 must not become 16).
  int64_t int32_value(uint64_t raw, const char* field) {
    const int64_t v = int64_t(raw);
    if (v < INT_MIN || v > INT_MAX) fail(std::string(field) + " " + std::to_string(v) + " is out of the int32 range");
    return v;
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= n_) fail("truncated varint");
      uint8_t b = p_[pos_++];
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }

  // Reads a field key; returns false at the end of the message.
  bool key(uint32_t& field, uint32_t& wire) {
    if (done()) return false;
    uint64_t k = varint();
    field = uint32_t(k >> 3);
    wire = uint32_t(k & 7);
    if (field == 0) fail("field number 0");
    return true;
  }

  Reader sub(const char* what) {
    uint64_t len = varint();
    if (len > n_ - pos_) fail("length-delimited field runs past the end (truncated file?)");
    Reader r(p_ + pos_, size_t(len), base_ + pos_, src_, what);
    pos_ += size_t(len);
    return r;
  }

  std::string str() {
    Reader r = sub(what_);
    return std::string(reinterpret_cast<const char*>(r.p_), r.n_);
  }

  uint32_t fixed32() {
    if (n_ - pos_ < 4) fail("truncated fixed32");
    uint32_t v;
    std::memcpy(&v, p_ + pos_, 4);  // the wire format is little-endian, as are our targets
    pos_ += 4;
    return v;
  }

  float f32() {
    uint32_t u = fixed32();
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }

  void skip(uint32_t wire) {
    switch (wire) {
      case 0: varint(); return;
      case 1:
        if (n_ - pos_ < 8) fail("truncated fixed64");
        pos_ += 8;
        return;
      case 2: sub(what_); return;
      case 5: fixed32(); return;
      default: fail("unsupported wire type " + std::to_string(wire));
    }
  }

  void expect(uint32_t wire, uint32_t want, uint32_t field) {
    if (wire != want)
      fail("field " + std::to_string(field) + " has wire type " + std::to_string(wire) + ", expected " +
           std::to_string(want));
  }

  // A repeated int64 field, packed (wire 2) or not (wire 0).
  void ints(uint32_t wire, std::vector<int64_t>& out) {
    if (wire == 0) {
      out.push_back(int64_t(varint()));
    } else if (wire == 2) {
      Reader r = sub(what_);
      while (!r.done()) out.push_back(int64_t(r.varint()));
    } else {
      fail("repeated integer with wire type " + std::to_string(wire));
    }
  }

  // A repeated float field, packed (wire 2) or not (wire 5).
  void floats(uint32_t wire, std::vector<float>& out) {
    if (wire == 5) {
      out.push_back(f32());
    } else if (wire == 2) {
      Reader r = sub(what_);
      if (r.n_ % 4) r.fail("packed floats length not a multiple of 4");
      size_t n = r.n_ / 4;
      size_t old = out.size();
      out.resize(old + n);
      std::memcpy(out.data() + old, r.p_, n * 4);
    } else {
      fail("repeated float with wire type " + std::to_string(wire));
    }
  }

  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  size_t base_;
  const std::string* src_;
  const char* what_;
};

OnnxTensor parse_tensor(Reader r) {
  OnnxTensor t;
  std::string raw;
  bool has_raw = false;
  uint32_t f, w;
  while (r.key(f, w)) {
    switch (f) {
      case 1: r.ints(w, t.dims); break;
      case 2:
        r.expect(w, 0, f);
        t.data_type = int32_t(r.varint());
        break;
      case 4: r.floats(w, t.floats); break;
      case 5: {  // int32_data
        std::vector<int64_t> v;
        r.ints(w, v);
        t.ints.insert(t.ints.end(), v.begin(), v.end());
        break;
      }
      case 7: r.ints(w, t.ints); break;
      case 8:
        r.expect(w, 2, f);
        t.name = r.str();
        break;
      case 9:
        r.expect(w, 2, f);
        raw = r.str();
        has_raw = true;
        break;
      case 14:
        r.expect(w, 0, f);
        if (r.varint() != 0) r.fail("tensor uses external data, which is not supported");
        break;
      default: r.skip(w);
    }
  }
  for (int64_t d : t.dims)
    if (d < 0 || d > INT_MAX) r.fail("tensor '" + t.name + "' has a bad dimension " + std::to_string(d));
  int64_t n = 1;  // each factor <= INT_MAX, and the product is checked before it can overflow
  for (int64_t d : t.dims) {
    if (d != 0 && n > INT_MAX / d) r.fail("tensor '" + t.name + "' is too large");
    n *= d;
  }
  if (has_raw) {
    // 1 float, 7 int64, 6 int32, 2 uint8 / 3 int8 (the QDQ files' quantized tensors): integers widened to int64
    size_t elem = t.data_type == 1                         ? 4
                  : t.data_type == 7                       ? 8
                  : t.data_type == 6                       ? 4
                  : (t.data_type == 2 || t.data_type == 3) ? 1
                                                           : 0;
    if (elem == 0) r.fail("tensor '" + t.name + "' has unsupported data type " + std::to_string(t.data_type));
    if (raw.size() != size_t(n) * elem)
      r.fail("tensor '" + t.name + "' raw_data has " + std::to_string(raw.size()) + " bytes, dims need " +
             std::to_string(size_t(n) * elem));
    if (t.data_type == 1) {
      t.floats.resize(size_t(n));
      std::memcpy(t.floats.data(), raw.data(), raw.size());
    } else if (t.data_type == 7) {
      t.ints.resize(size_t(n));
      std::memcpy(t.ints.data(), raw.data(), raw.size());
    } else if (t.data_type == 2) {
      t.ints.assign(reinterpret_cast<const uint8_t*>(raw.data()), reinterpret_cast<const uint8_t*>(raw.data()) + n);
    } else if (t.data_type == 3) {
      t.ints.assign(reinterpret_cast<const int8_t*>(raw.data()), reinterpret_cast<const int8_t*>(raw.data()) + n);
    } else {
      std::vector<int32_t> v{};
      v.resize(size_t(n));
      std::memcpy(v.data(), raw.data(), raw.size());
      t.ints.assign(v.begin(), v.end());
    }
  } else if (t.data_type == 1) {
    if (int64_t(t.floats.size()) != n)
      r.fail("tensor '" + t.name + "' has " + std::to_string(t.floats.size()) + " floats, dims need " +
             std::to_string(n));
  } else if (t.data_type == 6 || t.data_type == 7 || t.data_type == 2 || t.data_type == 3) {
    if (int64_t(t.ints.size()) != n)
      r.fail("tensor '" + t.name + "' has " + std::to_string(t.ints.size()) + " integers, dims need " +
             std::to_string(n));
  }
  // A NaN or Inf weight (a diverged training run) gives garbage with confident-looking scores.
  for (size_t i = 0; i < t.floats.size(); ++i)
    if (!std::isfinite(t.floats[i]))
      r.fail("tensor '" + t.name + "' holds a non-finite value (" + std::to_string(t.floats[i]) + " at index " +
             std::to_string(i) + "); the weights are unusable");
  return t;
}

OnnxAttribute parse_attribute(Reader r) {
  OnnxAttribute a;
  uint32_t f, w;
  while (r.key(f, w)) {
    switch (f) {
      case 1:
        r.expect(w, 2, f);
        a.name = r.str();
        break;
      case 2:
        r.expect(w, 5, f);
        a.f = r.f32();
        break;
      case 3:
        r.expect(w, 0, f);
        a.i = r.int32_value(r.varint(), "attribute value");
        break;
      case 4:
        r.expect(w, 2, f);
        a.s = r.str();
        break;
      case 5:
        r.expect(w, 2, f);
        a.t = parse_tensor(r.sub("AttributeProto.t"));
        a.has_tensor = true;
        break;
      case 7: r.floats(w, a.floats); break;
      case 8:
        r.ints(w, a.ints);
        for (int64_t v : a.ints) r.int32_value(uint64_t(v), "attribute value");
        break;
      case 20:
        r.expect(w, 0, f);
        a.type = int32_t(r.varint());
        break;
      default: r.skip(w);
    }
  }
  return a;
}

OnnxNode parse_node(Reader r) {
  OnnxNode n;
  uint32_t f, w;
  while (r.key(f, w)) {
    switch (f) {
      case 1:
        r.expect(w, 2, f);
        n.inputs.push_back(r.str());
        break;
      case 2:
        r.expect(w, 2, f);
        n.outputs.push_back(r.str());
        break;
      case 3:
        r.expect(w, 2, f);
        n.name = r.str();
        break;
      case 4:
        r.expect(w, 2, f);
        n.op_type = r.str();
        break;
      case 5:
        r.expect(w, 2, f);
        n.attributes.push_back(parse_attribute(r.sub("AttributeProto")));
        break;
      case 7:
        r.expect(w, 2, f);
        n.domain = r.str();
        break;
      default: r.skip(w);
    }
  }
  return n;
}

OnnxValueInfo parse_value_info(Reader r) {
  OnnxValueInfo v;
  uint32_t f, w;
  while (r.key(f, w)) {
    if (f == 1 && w == 2) {
      v.name = r.str();
    } else if (f == 2 && w == 2) {  // TypeProto
      Reader tp = r.sub("TypeProto");
      while (tp.key(f, w)) {
        if (f != 1 || w != 2) {
          tp.skip(w);
          continue;
        }
        Reader tt = tp.sub("TypeProto.Tensor");
        while (tt.key(f, w)) {
          if (f == 1 && w == 0) {
            v.elem_type = int32_t(tt.varint());
          } else if (f == 2 && w == 2) {
            Reader sh = tt.sub("TensorShapeProto");
            while (sh.key(f, w)) {
              if (f != 1 || w != 2) {
                sh.skip(w);
                continue;
              }
              Reader dim = sh.sub("TensorShapeProto.Dimension");
              int64_t d = -1;
              while (dim.key(f, w)) {
                if (f == 1 && w == 0) d = dim.int32_value(dim.varint(), "dimension");
                else dim.skip(w);
              }
              v.dims.push_back(d);
            }
          } else {
            tt.skip(w);
          }
        }
      }
    } else {
      r.skip(w);
    }
  }
  return v;
}

void parse_graph(Reader r, OnnxModel& m) {
  uint32_t f, w;
  while (r.key(f, w)) {
    if (w != 2) {
      r.skip(w);
      continue;
    }
    switch (f) {
      case 1: m.nodes.push_back(parse_node(r.sub("NodeProto"))); break;
      case 5: {
        OnnxTensor t = parse_tensor(r.sub("TensorProto"));
        std::string name = t.name;
        m.initializers[name] = std::move(t);
        break;
      }
      case 11: m.inputs.push_back(parse_value_info(r.sub("ValueInfoProto"))); break;
      case 12: m.outputs.push_back(parse_value_info(r.sub("ValueInfoProto"))); break;
      default: r.skip(w);
    }
  }
}

}  // namespace

int64_t OnnxTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

const OnnxAttribute* OnnxNode::attr(const std::string& n) const {
  for (const auto& a : attributes)
    if (a.name == n) return &a;
  return nullptr;
}
int64_t OnnxNode::attr_int(const std::string& n, int64_t dflt) const {
  const OnnxAttribute* a = attr(n);
  return a ? a->i : dflt;
}
std::vector<int64_t> OnnxNode::attr_ints(const std::string& n) const {
  const OnnxAttribute* a = attr(n);
  return a ? a->ints : std::vector<int64_t>{};
}
std::string OnnxNode::attr_string(const std::string& n, const std::string& dflt) const {
  const OnnxAttribute* a = attr(n);
  return a ? a->s : dflt;
}

OnnxModel parse_onnx(const uint8_t* data, size_t size, const std::string& source) {
  OnnxModel m;
  m.source = source;
  if (size == 0) throw ModelError(source + ": malformed ONNX file: the file is empty");
  Reader r(data, size, 0, &m.source, "ModelProto");
  bool has_graph = false;
  uint32_t f, w;
  while (r.key(f, w)) {
    if (f == 7 && w == 2) {
      parse_graph(r.sub("GraphProto"), m);
      has_graph = true;
    } else if (f == 14 && w == 2) {
      Reader e = r.sub("StringStringEntryProto");
      std::string k, v;
      while (e.key(f, w)) {
        if (f == 1 && w == 2) k = e.str();
        else if (f == 2 && w == 2) v = e.str();
        else e.skip(w);
      }
      m.metadata[k] = v;
    } else {
      r.skip(w);
    }
  }
  if (!has_graph) throw ModelError(source + ": malformed ONNX file: no graph (is this an ONNX model?)");
  return m;
}

OnnxModel read_onnx(const std::string& path) {
  // One rule (the Python backends apply the same): a regular file of at most kMaxModelBytes,
  // checked before anything is read, so /dev/zero, a FIFO or a directory is refused, not read.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw ModelError(path + ": cannot open the model file (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) throw ModelError(path + ": is not a regular file");
  if (uint64_t(st.st_size) > kMaxModelBytes)
    throw ModelError(path + ": is " + std::to_string(uint64_t(st.st_size)) + " bytes, more than the " +
                     std::to_string(kMaxModelBytes) + " a model may have");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw ModelError(path + ": cannot open the model file (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes(size_t(st.st_size));
  size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f.get());
  if (got != bytes.size()) throw ModelError(path + ": short read (the file changed while it was read?)");
  return parse_onnx(bytes.data(), bytes.size(), path);
}

}  // namespace bluefire
