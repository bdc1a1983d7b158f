// Program-level calls: BPF_PROG_TEST_RUN, program info, pinning of any BPF fd, and the BPF filesystem
// check/mount that pinning needs.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace ptxdp {

namespace {

// testRun(progFd, data, repeat, ctxIn: Buffer|null, dataOutSize, netns?) -> {retval, data, durationNs}
Napi::Value TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "progFd"));
  auto data = ArgBuffer(info, 1, "data");
  int repeat = static_cast<int>(ArgInt(info, 2, "repeat"));
  bool hasCtx = info.Length() > 3 && info[3].IsBuffer();
  uint32_t outSize = static_cast<uint32_t>(ArgInt(info, 4, "dataOutSize"));
  std::string netns = ArgOptString(info, 5);
  LogReset();
  std::vector<uint8_t> out(outSize ? outSize : 1);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = data.Data();
  opts.data_size_in = static_cast<uint32_t>(data.Length());
  opts.data_out = out.data();
  opts.data_size_out = outSize;
  opts.repeat = repeat;
  std::vector<uint8_t> ctx;
  if (hasCtx) {
    auto c = info[3].As<Napi::Buffer<uint8_t>>();
    ctx.assign(c.Data(), c.Data() + c.Length());
    opts.ctx_in = ctx.data();
    opts.ctx_size_in = static_cast<uint32_t>(ctx.size());
  }
  // The kernel resolves an xdp_md ingress_ifindex in the caller's namespace.
  NetnsGuard ns(env, netns, "bpf_prog_test_run_opts");
  int rc = bpf_prog_test_run_opts(fd, &opts);
  int err = errno;
  ns.Restore();
  if (rc < 0) {
    err = rc == -1 ? err : -rc;
    std::string detail;
    if (err == ENOSPC) detail = "output is " + std::to_string(opts.data_size_out) + " bytes, larger than dataOutSize " + std::to_string(outSize);
    throw BpfErr(env, "bpf_prog_test_run_opts", err, detail);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("retval", static_cast<double>(opts.retval));
  o.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), opts.data_size_out));
  o.Set("durationNs", static_cast<double>(opts.duration));
  return o;
}

// progInfo(fd) -> {name, type, id, tag}
Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "fd"));
  LogReset();
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof pi);
  uint32_t len = sizeof pi;
  if (bpf_obj_get_info_by_fd(fd, &pi, &len) < 0) throw BpfErr(env, "bpf_obj_get_info_by_fd", errno, "fd " + std::to_string(fd));
  char tag[2 * BPF_TAG_SIZE + 1];
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", pi.name);
  o.Set("type", static_cast<double>(pi.type));
  o.Set("id", static_cast<double>(pi.id));
  o.Set("tag", tag);
  return o;
}

// objPin(fd, path): the parent directory must exist on a BPF filesystem.
Napi::Value ObjPin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "fd"));
  std::string path = ArgString(info, 1, "path");
  LogReset();
  if (bpf_obj_pin(fd, path.c_str()) < 0) throw BpfErr(env, "bpf_obj_pin", errno, path);
  return env.Undefined();
}

// objUnpin(path): unlink a pin; the object lives on while other fds or pins hold it.
Napi::Value ObjUnpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  LogReset();
  if (unlink(path.c_str()) < 0) throw BpfErr(env, "unlink", errno, path);
  return env.Undefined();
}

// isBpffs(path) -> boolean: whether path lies on a BPF filesystem.
Napi::Value IsBpffs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  struct statfs st;
  if (statfs(path.c_str(), &st) < 0) throw BpfErr(env, "statfs", errno, path);
  return Napi::Boolean::New(env, static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC);
}

// mountBpffs(path): mount a BPF filesystem on an existing directory.
Napi::Value MountBpffs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  if (mount("bpffs", path.c_str(), "bpf", 0, "mode=0700") < 0) throw BpfErr(env, "mount", errno, "bpf filesystem on " + path);
  return env.Undefined();
}

}  // namespace

void InitProg(Napi::Env env, Napi::Object exports) {
  exports.Set("testRun", Napi::Function::New(env, TestRun));
  exports.Set("progInfo", Napi::Function::New(env, ProgInfo));
  exports.Set("objPin", Napi::Function::New(env, ObjPin));
  exports.Set("objUnpin", Napi::Function::New(env, ObjUnpin));
  exports.Set("isBpffs", Napi::Function::New(env, IsBpffs));
  exports.Set("mountBpffs", Napi::Function::New(env, MountBpffs));
}

}  // namespace ptxdp
