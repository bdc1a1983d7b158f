// Opaque handles: NativeObject owns a struct bpf_object (and through it the fds of its programs and maps);
// NativeFd owns one fd obtained from a pin. Both free their resource in close() and in the finalizer.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "common.h"

namespace ptxdp {

namespace {

Napi::Object MapDesc(Napi::Env env, const struct bpf_map* m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", bpf_map__name(m));
  o.Set("type", static_cast<double>(bpf_map__type(m)));
  o.Set("keySize", static_cast<double>(bpf_map__key_size(m)));
  o.Set("valueSize", static_cast<double>(bpf_map__value_size(m)));
  o.Set("maxEntries", static_cast<double>(bpf_map__max_entries(m)));
  o.Set("fd", bpf_map__fd(m));
  return o;
}

class NativeObject : public Napi::ObjectWrap<NativeObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeObject",
                       {
                           InstanceMethod("load", &NativeObject::Load),
                           InstanceMethod("programs", &NativeObject::Programs),
                           InstanceMethod("maps", &NativeObject::Maps),
                           InstanceMethod("close", &NativeObject::Close),
                           InstanceMethod("rodataVars", &NativeObject::RodataVars),
                           InstanceMethod("setRodata", &NativeObject::SetRodata),
                           InstanceAccessor("closed", &NativeObject::Closed, nullptr),
                           InstanceAccessor("loaded", &NativeObject::Loaded, nullptr),
                       });
  }

  // new NativeObject(path, pinRoot?)
  NativeObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeObject>(info) {
    Napi::Env env = info.Env();
    std::string path = ArgString(info, 0, "path");
    std::string pinRoot = ArgOptString(info, 1);
    LogReset();
    LIBBPF_OPTS(bpf_object_open_opts, opts);
    if (!pinRoot.empty()) opts.pin_root_path = pinRoot.c_str();
    errno = 0;
    obj_ = bpf_object__open_file(path.c_str(), &opts);
    if (!obj_) throw BpfErr(env, "bpf_object__open_file", errno ? errno : EINVAL, path);
  }

  ~NativeObject() override { Free(); }

 private:
  void Free() {
    if (obj_) bpf_object__close(obj_);
    obj_ = nullptr;
  }

  struct bpf_object* Need(Napi::Env env, const char* call) {
    if (!obj_) throw BpfErr(env, call, EBADF, "the BPF object is closed");
    return obj_;
  }

  Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Need(env, "bpf_object__load");
    if (loaded_) throw BpfErr(env, "bpf_object__load", EALREADY, "the BPF object is already loaded");
    LogReset();
    // The verifier gives up with EAGAIN when a signal is pending (kernel/bpf/verifier.c), and a sampling
    // profiler (node --cpu-prof) sends this thread SIGPROF every millisecond: hold it back while loading.
    sigset_t prof, old;
    sigemptyset(&prof);
    sigaddset(&prof, SIGPROF);
    pthread_sigmask(SIG_BLOCK, &prof, &old);
    int rc = bpf_object__load(obj);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    Check(env, rc, "bpf_object__load", bpf_object__name(obj));
    loaded_ = true;
    return env.Undefined();
  }

  // [{name, section, type, fd}] in ELF order; fd is -1 before load.
  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Need(env, "bpf_object__for_each_program");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    struct bpf_program* p;
    bpf_object__for_each_program(p, obj) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      o.Set("type", static_cast<double>(bpf_program__type(p)));
      o.Set("fd", bpf_program__fd(p));
      out.Set(i++, o);
    }
    return out;
  }

  // [{name, type, keySize, valueSize, maxEntries, fd}] including internal maps (.bss, .rodata, ...).
  Napi::Value Maps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_object* obj = Need(env, "bpf_object__for_each_map");
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    struct bpf_map* m;
    bpf_object__for_each_map(m, obj) out.Set(i++, MapDesc(env, m));
    return out;
  }

  struct RodataVar {
    std::string name;
    uint32_t offset, size;
  };

  // The variables of the .rodata section (`const volatile` globals: load-time constants) from BTF.
  std::vector<RodataVar> Rodata(Napi::Env env, struct bpf_map** mapOut) {
    struct bpf_object* obj = Need(env, "bpf_map__set_initial_value");
    std::vector<RodataVar> vars;
    *mapOut = nullptr;
    struct bpf_map* m;
    bpf_object__for_each_map(m, obj) {
      const char* n = bpf_map__name(m);
      size_t len = strlen(n);
      if (bpf_map__is_internal(m) && len >= 7 && strcmp(n + len - 7, ".rodata") == 0) *mapOut = m;
    }
    const struct btf* btf = bpf_object__btf(obj);
    if (!*mapOut || !btf) return vars;
    int id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
    if (id < 0) return vars;
    const struct btf_type* sec = btf__type_by_id(btf, id);
    const struct btf_var_secinfo* vsi = btf_var_secinfos(sec);
    for (unsigned i = 0; i < btf_vlen(sec); i++, vsi++) {
      const struct btf_type* var = btf__type_by_id(btf, vsi->type);
      vars.push_back({btf__name_by_offset(btf, var->name_off), vsi->offset, vsi->size});
    }
    return vars;
  }

  // rodataVars() -> [{name, size}]
  Napi::Value RodataVars(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    struct bpf_map* map;
    auto vars = Rodata(env, &map);
    Napi::Array out = Napi::Array::New(env);
    for (uint32_t i = 0; i < vars.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", vars[i].name);
      o.Set("size", static_cast<double>(vars[i].size));
      out.Set(i, o);
    }
    return out;
  }

  // setRodata(name, bytes): before load, overwrite one load-time constant.
  Napi::Value SetRodata(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "name");
    auto bytes = ArgBuffer(info, 1, "bytes");
    LogReset();
    if (loaded_) throw BpfErr(env, "bpf_map__set_initial_value", EBUSY, "load-time constant \"" + name + "\": the object is already loaded");
    struct bpf_map* map;
    auto vars = Rodata(env, &map);
    for (const auto& v : vars) {
      if (v.name != name) continue;
      if (bytes.Length() != v.size) {
        throw BpfErr(env, "bpf_map__set_initial_value", EINVAL,
                     "load-time constant \"" + name + "\" is " + std::to_string(v.size) + " bytes, got " + std::to_string(bytes.Length()));
      }
      size_t size = 0;
      const void* cur = bpf_map__initial_value(map, &size);
      if (!cur || v.offset + v.size > size) throw BpfErr(env, "bpf_map__initial_value", EINVAL, bpf_map__name(map));
      std::vector<uint8_t> data(static_cast<const uint8_t*>(cur), static_cast<const uint8_t*>(cur) + size);
      memcpy(data.data() + v.offset, bytes.Data(), v.size);
      Check(env, bpf_map__set_initial_value(map, data.data(), data.size()), "bpf_map__set_initial_value", name);
      return env.Undefined();
    }
    throw BpfErr(env, "bpf_map__set_initial_value", ENOENT, "no load-time constant \"" + name + "\"");
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Free();
    return info.Env().Undefined();
  }

  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), obj_ == nullptr); }
  Napi::Value Loaded(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), loaded_); }

  struct bpf_object* obj_ = nullptr;
  bool loaded_ = false;
};

class NativeFd : public Napi::ObjectWrap<NativeFd> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeFd",
                       {
                           InstanceMethod("close", &NativeFd::Close),
                           InstanceAccessor("fd", &NativeFd::Fd, nullptr),
                       });
  }

  // new NativeFd(path): bpf_obj_get on a pinned program or map.
  NativeFd(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeFd>(info) {
    Napi::Env env = info.Env();
    std::string path = ArgString(info, 0, "path");
    LogReset();
    fd_ = bpf_obj_get(path.c_str());
    if (fd_ < 0) {
      int err = errno;
      fd_ = -1;
      throw BpfErr(env, "bpf_obj_get", err, path);
    }
  }

  ~NativeFd() override {
    if (fd_ >= 0) close(fd_);
  }

 private:
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return info.Env().Undefined();
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  int fd_ = -1;
};

}  // namespace

void InitObject(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeObject", NativeObject::Define(env));
  exports.Set("NativeFd", NativeFd::Define(env));
}

}  // namespace ptxdp
