// N-API bindings of the WAN-opt hot loop. Every function validates its arguments and throws a TypeError /
// RangeError naming the argument, never crashes on bad input.
//
//   chunk(buf, min, avg, max, final, hash) -> { cuts: Uint32Array, digests: Buffer | undefined, consumed }
//     cuts are chunk end offsets in buf. With final=false, chunking stops once fewer than `max` bytes remain,
//     because the last chunk could then end only where the data ran out rather than at a content boundary;
//     `consumed` (= last cut) says how far it got and the caller keeps the rest for the next call.
//     digests: 32 bytes of SHA-256 per chunk when hash is true.
//   sha256Ranges(buf, cuts) -> Buffer   SHA-256 of each range [cuts[i-1], cuts[i]) — the SHA-only baseline.
//   gearTable() -> Uint32Array           the gear table, for checking the JS fallback against it.
//   transparentListen(host, port, backlog, netns?) -> fd   see transparent.cc.
//   tunOpen(name) -> { fd, name }; tunWatch(fd, maxLen, onPackets) -> id; tunUnwatch(id)   see tun.cc.
#include <napi.h>
#include <openssl/sha.h>
#include <vector>
#include "cdc.h"

Napi::Value TransparentListen(const Napi::CallbackInfo &info);
Napi::Value TunOpen(const Napi::CallbackInfo &info);
Napi::Value TunWatch(const Napi::CallbackInfo &info);
Napi::Value TunUnwatch(const Napi::CallbackInfo &info);

namespace {

uint32_t u32Arg(const Napi::CallbackInfo &info, size_t i, const char *name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 1 && v <= 0x7fffffff) || v != static_cast<double>(static_cast<uint32_t>(v)))
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be an integer in 1..2^31-1");
  return static_cast<uint32_t>(v);
}

Napi::Value Chunk(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "chunk(buf, min, avg, max, final, hash): buf must be a Buffer");
  auto ta = info[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) throw Napi::TypeError::New(env, "buf must be a Buffer / Uint8Array");
  auto u8 = info[0].As<Napi::Uint8Array>();
  const uint8_t *data = u8.Data();
  size_t n = u8.ByteLength();
  uint32_t min = u32Arg(info, 1, "min"), avg = u32Arg(info, 2, "avg"), max = u32Arg(info, 3, "max");
  if (!(min <= avg && avg <= max)) throw Napi::RangeError::New(env, "expected min <= avg <= max");
  bool final = info[4].ToBoolean(), hash = info[5].ToBoolean();
  pt_cdc::Params p = pt_cdc::make_params(min, avg, max);

  std::vector<uint32_t> cuts;
  cuts.reserve(n / avg + 2);
  size_t off = 0;
  while (off < n) {
    size_t rest = n - off;
    if (!final && rest < max) break;
    off += pt_cdc::next_cut(data + off, rest, p);
    cuts.push_back(static_cast<uint32_t>(off));
  }
  auto cutArr = Napi::Uint32Array::New(env, cuts.size());
  std::copy(cuts.begin(), cuts.end(), cutArr.Data());
  Napi::Object out = Napi::Object::New(env);
  out.Set("cuts", cutArr);
  out.Set("consumed", Napi::Number::New(env, static_cast<double>(off)));
  if (hash) {
    auto digests = Napi::Buffer<uint8_t>::New(env, cuts.size() * SHA256_DIGEST_LENGTH);
    size_t start = 0;
    for (size_t i = 0; i < cuts.size(); i++) {
      SHA256(data + start, cuts[i] - start, digests.Data() + i * SHA256_DIGEST_LENGTH);
      start = cuts[i];
    }
    out.Set("digests", digests);
  }
  return out;
}

Napi::Value Sha256Ranges(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray())
    throw Napi::TypeError::New(env, "sha256Ranges(buf, cuts): buf must be a Buffer and cuts a Uint32Array");
  auto u8 = info[0].As<Napi::TypedArray>();
  auto c = info[1].As<Napi::TypedArray>();
  if (u8.TypedArrayType() != napi_uint8_array || c.TypedArrayType() != napi_uint32_array)
    throw Napi::TypeError::New(env, "sha256Ranges(buf, cuts): buf must be a Buffer and cuts a Uint32Array");
  const uint8_t *data = u8.As<Napi::Uint8Array>().Data();
  size_t n = u8.ByteLength();
  auto cuts = c.As<Napi::Uint32Array>();
  size_t count = cuts.ElementLength();
  uint32_t prev = 0;
  for (size_t i = 0; i < count; i++) {
    if (cuts[i] < prev || cuts[i] > n) throw Napi::RangeError::New(env, "cuts must be ascending offsets within buf");
    prev = cuts[i];
  }
  auto digests = Napi::Buffer<uint8_t>::New(env, count * SHA256_DIGEST_LENGTH);
  uint32_t start = 0;
  for (size_t i = 0; i < count; i++) {
    SHA256(data + start, cuts[i] - start, digests.Data() + i * SHA256_DIGEST_LENGTH);
    start = cuts[i];
  }
  return digests;
}

Napi::Value GearTable(const Napi::CallbackInfo &info) {
  auto arr = Napi::Uint32Array::New(info.Env(), 256);
  const uint32_t *g = pt_cdc::gear();
  std::copy(g, g + 256, arr.Data());
  return arr;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  pt_cdc::gear();
  exports.Set("chunk", Napi::Function::New(env, Chunk));
  exports.Set("sha256Ranges", Napi::Function::New(env, Sha256Ranges));
  exports.Set("gearTable", Napi::Function::New(env, GearTable));
  exports.Set("transparentListen", Napi::Function::New(env, TransparentListen));
  exports.Set("tunOpen", Napi::Function::New(env, TunOpen));
  exports.Set("tunWatch", Napi::Function::New(env, TunWatch));
  exports.Set("tunUnwatch", Napi::Function::New(env, TunUnwatch));
  return exports;
}

}  // namespace

NODE_API_MODULE(patronus_wanopt, Init)
