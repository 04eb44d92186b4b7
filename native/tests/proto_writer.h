// Writes the few ONNX messages the tests need, in protobuf wire format (the reader's mirror).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace bftest {

struct Msg {
  std::string b;
  Msg& varint(uint64_t v) {
    while (v >= 0x80) {
      b.push_back(char(v | 0x80));
      v >>= 7;
    }
    b.push_back(char(v));
    return *this;
  }
  Msg& key(int field, int wire) { return varint(uint64_t(field) << 3 | unsigned(wire)); }
  Msg& i(int field, int64_t v) { return key(field, 0).varint(uint64_t(v)); }
  Msg& s(int field, const std::string& v) {
    key(field, 2).varint(v.size());
    b += v;
    return *this;
  }
  Msg& m(int field, const Msg& v) { return s(field, v.b); }
};

inline Msg tensor(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& v) {
  Msg t;
  for (int64_t d : dims) t.i(1, d);
  t.i(2, 1).s(8, name);
  std::string raw(v.size() * 4, '\0');
  std::memcpy(&raw[0], v.data(), raw.size());
  return t.s(9, raw);
}

inline Msg ints_tensor(const std::string& name, const std::vector<int64_t>& v) {
  Msg t, packed;
  t.i(1, int64_t(v.size())).i(2, 7).s(8, name);
  for (int64_t x : v) packed.varint(uint64_t(x));
  return t.s(7, packed.b);
}

inline Msg attr_ints(const std::string& name, const std::vector<int64_t>& v) {
  Msg a;
  a.s(1, name).i(20, 7);
  for (int64_t x : v) a.i(8, x);
  return a;
}
inline Msg attr_int(const std::string& name, int64_t v) { return Msg().s(1, name).i(3, v).i(20, 2); }

inline Msg node(const std::string& op, const std::vector<std::string>& in, const std::vector<std::string>& out,
                const std::vector<Msg>& attrs = {}) {
  Msg n;
  for (auto& s : in) n.s(1, s);
  for (auto& s : out) n.s(2, s);
  n.s(3, out[0] + "_node").s(4, op);
  for (auto& a : attrs) n.m(5, a);
  return n;
}

inline Msg value_info(const std::string& name, const std::vector<int64_t>& dims) {  // -1: symbolic
  Msg shape;
  for (int64_t d : dims) shape.m(1, d < 0 ? Msg().s(2, "batch") : Msg().i(1, d));
  Msg tt;
  tt.i(1, 1).m(2, shape);
  return Msg().s(1, name).m(2, Msg().m(1, tt));
}

inline std::string model(const std::vector<Msg>& nodes, const std::vector<Msg>& inits, const Msg& input,
                         const Msg& output, const std::vector<std::pair<std::string, std::string>>& meta = {}) {
  Msg g;
  for (auto& n : nodes) g.m(1, n);
  g.s(2, "test");
  for (auto& t : inits) g.m(5, t);
  g.m(11, input).m(12, output);
  Msg mp;
  mp.i(1, 8).s(2, "bluefire-test").m(7, g);
  for (auto& kv : meta) mp.m(14, Msg().s(1, kv.first).s(2, kv.second));
  return mp.b;
}

}  // namespace bftest
