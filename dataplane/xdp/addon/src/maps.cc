// Map access by fd: info, lookup/update/delete, key iteration and batch lookup. Value buffers are sized by
// the caller (the TypeScript layer knows about per-CPU rounding), and checked here before the syscall so a
// short buffer can never let the kernel write past it.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common.h"

namespace ptxdp {

namespace {

struct MapShape {
  uint32_t keySize, valueSize, maxEntries, type;
};

MapShape Shape(Napi::Env env, int fd, const char* call) {
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof mi);
  uint32_t len = sizeof mi;
  if (bpf_obj_get_info_by_fd(fd, &mi, &len) < 0) throw BpfErr(env, call, errno, "fd " + std::to_string(fd) + " is not a BPF map");
  return {mi.key_size, mi.value_size, mi.max_entries, mi.type};
}

bool IsPerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// Bytes the kernel reads or writes for one value of this map.
size_t ValueBytes(const MapShape& s) {
  if (!IsPerCpu(s.type)) return s.valueSize;
  int n = libbpf_num_possible_cpus();
  return ((static_cast<size_t>(s.valueSize) + 7) / 8) * 8 * static_cast<size_t>(n > 0 ? n : 1);
}

// The (keySize, valueBytes) pair the TypeScript layer passes after the buffers: it read them from the
// kernel once per map, which saves an info syscall per element operation.
MapShape ArgShape(const Napi::CallbackInfo& info, size_t at) {
  MapShape s{};
  s.keySize = static_cast<uint32_t>(ArgInt(info, at, "keySize"));
  s.valueSize = static_cast<uint32_t>(ArgInt(info, at + 1, "valueBytes"));
  s.type = BPF_MAP_TYPE_UNSPEC;
  return s;
}

void NeedLen(Napi::Env env, const char* call, const char* what, size_t got, size_t want) {
  if (got != want) {
    throw BpfErr(env, call, EINVAL, std::string(what) + " is " + std::to_string(got) + " bytes, the map expects " + std::to_string(want));
  }
}

// mapInfo(fd) -> {name, type, keySize, valueSize, maxEntries, id, flags}
Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "fd"));
  LogReset();
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof mi);
  uint32_t len = sizeof mi;
  if (bpf_obj_get_info_by_fd(fd, &mi, &len) < 0) throw BpfErr(env, "bpf_obj_get_info_by_fd", errno, "fd " + std::to_string(fd));
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", mi.name);
  o.Set("type", static_cast<double>(mi.type));
  o.Set("keySize", static_cast<double>(mi.key_size));
  o.Set("valueSize", static_cast<double>(mi.value_size));
  o.Set("maxEntries", static_cast<double>(mi.max_entries));
  o.Set("id", static_cast<double>(mi.id));
  o.Set("flags", static_cast<double>(mi.map_flags));
  return o;
}

// mapLookup(fd, key, keySize, valueBytes) -> Buffer | undefined
Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "fd"));
  auto key = ArgBuffer(info, 1, "key");
  MapShape s = ArgShape(info, 2);
  LogReset();
  NeedLen(env, "bpf_map_lookup_elem", "key", key.Length(), s.keySize);
  auto value = Napi::Buffer<uint8_t>::New(env, s.valueSize);
  if (bpf_map_lookup_elem(fd, key.Data(), value.Data()) < 0) {
    if (errno == ENOENT) return env.Undefined();
    throw BpfErr(env, "bpf_map_lookup_elem", errno);
  }
  return value;
}

// mapUpdate(fd, key, value, flags, keySize, valueBytes)
Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "fd"));
  auto key = ArgBuffer(info, 1, "key");
  auto value = ArgBuffer(info, 2, "value");
  uint64_t flags = static_cast<uint64_t>(ArgInt(info, 3, "flags"));
  MapShape s = ArgShape(info, 4);
  LogReset();
  NeedLen(env, "bpf_map_update_elem", "key", key.Length(), s.keySize);
  NeedLen(env, "bpf_map_update_elem", "value", value.Length(), s.valueSize);
  if (bpf_map_update_elem(fd, key.Data(), value.Data(), flags) < 0) throw BpfErr(env, "bpf_map_update_elem", errno);
  return env.Undefined();
}

// mapDelete(fd, key, keySize) -> boolean (false when the key was absent)
Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "fd"));
  auto key = ArgBuffer(info, 1, "key");
  MapShape s{};
  s.keySize = static_cast<uint32_t>(ArgInt(info, 2, "keySize"));
  LogReset();
  NeedLen(env, "bpf_map_delete_elem", "key", key.Length(), s.keySize);
  if (bpf_map_delete_elem(fd, key.Data()) < 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    throw BpfErr(env, "bpf_map_delete_elem", errno);
  }
  return Napi::Boolean::New(env, true);
}

// mapKeys(fd) -> Buffer (all keys concatenated, keySize each) via bpf_map_get_next_key.
Napi::Value MapKeys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "fd"));
  LogReset();
  MapShape s = Shape(env, fd, "bpf_map_get_next_key");
  std::vector<uint8_t> out;
  std::vector<uint8_t> cur(s.keySize), next(s.keySize);
  const void* prev = nullptr;
  // A hash map whose entries are deleted while we walk restarts from the first bucket; the cap keeps that
  // from looping forever under churn.
  uint64_t cap = static_cast<uint64_t>(s.maxEntries) * 4 + 16;
  for (uint64_t n = 0; n < cap; n++) {
    if (bpf_map_get_next_key(fd, prev, next.data()) < 0) {
      if (errno == ENOENT) break;
      throw BpfErr(env, "bpf_map_get_next_key", errno);
    }
    out.insert(out.end(), next.begin(), next.end());
    cur.swap(next);
    prev = cur.data();
  }
  return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
}

// mapLookupBatch(fd) -> {keys: Buffer, values: Buffer, count} or null when the map type has no batch ops.
Napi::Value MapLookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "fd"));
  LogReset();
  MapShape s = Shape(env, fd, "bpf_map_lookup_batch");
  size_t vbytes = ValueBytes(s);
  // Hash maps use a u32 bucket cursor, array maps a key-sized one.
  size_t tokenSize = s.keySize > 8 ? s.keySize : 8;
  std::vector<uint8_t> inTok(tokenSize), outTok(tokenSize);
  uint32_t chunk = s.maxEntries < 256 ? (s.maxEntries ? s.maxEntries : 1) : 256;
  std::vector<uint8_t> keys, values;
  bool first = true;
  size_t total = 0;
  for (;;) {
    keys.resize((total + chunk) * s.keySize);
    values.resize((total + chunk) * vbytes);
    uint32_t count = chunk;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int rc = bpf_map_lookup_batch(fd, first ? nullptr : inTok.data(), outTok.data(), keys.data() + total * s.keySize,
                                  values.data() + total * vbytes, &count, &opts);
    int err = rc < 0 ? errno : 0;
    if (rc < 0 && err != ENOENT) {
      if (first && (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == 524 /* ENOTSUPP */)) return env.Null();
      if (err == ENOSPC) {
        // One hash bucket holds more entries than the chunk: retry the same cursor with a bigger chunk.
        chunk *= 2;
        continue;
      }
      throw BpfErr(env, "bpf_map_lookup_batch", err);
    }
    total += count;
    if (err == ENOENT) break;
    inTok = outTok;
    first = false;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", Napi::Buffer<uint8_t>::Copy(env, keys.data(), total * s.keySize));
  o.Set("values", Napi::Buffer<uint8_t>::Copy(env, values.data(), total * vbytes));
  o.Set("count", static_cast<double>(total));
  return o;
}

Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LogReset();
  int n = libbpf_num_possible_cpus();
  Check(env, n, "libbpf_num_possible_cpus");
  return Napi::Number::New(env, n);
}

Napi::Value MapTypeName(const Napi::CallbackInfo& info) {
  const char* s = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(ArgInt(info, 0, "type")));
  return Napi::String::New(info.Env(), s ? s : "unknown");
}

}  // namespace

void InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo));
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete));
  exports.Set("mapKeys", Napi::Function::New(env, MapKeys));
  exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus));
  exports.Set("mapTypeName", Napi::Function::New(env, MapTypeName));
}

}  // namespace ptxdp
