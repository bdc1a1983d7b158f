// Attach points, each run inside the caller's chosen network namespace: XDP (native or generic) through
// bpf_xdp_attach, tc clsact ingress/egress through bpf_tc_hook_create + bpf_tc_attach (direct action),
// their queries, and interface-name lookup.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <cerrno>

#include "common.h"

namespace ptxdp {

namespace {

std::string Where(const std::string& ifname, const std::string& netns) {
  return "interface \"" + ifname + "\"" + (netns.empty() ? "" : " in network namespace \"" + netns + "\"");
}

// ifindex(ifname, netns?) -> number
Napi::Value Ifindex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  std::string netns = ArgOptString(info, 1);
  LogReset();
  NetnsGuard ns(env, netns, "if_nametoindex");
  int idx = IfindexOrThrow(env, ifname, netns, "if_nametoindex");
  ns.Restore();
  return Napi::Number::New(env, idx);
}

// xdpAttach(progFd, ifname, flags, netns?, replace?): flags are XDP_FLAGS_* (mode bits).
Napi::Value XdpAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "progFd"));
  std::string ifname = ArgString(info, 1, "ifname");
  uint32_t flags = static_cast<uint32_t>(ArgInt(info, 2, "flags"));
  std::string netns = ArgOptString(info, 3);
  LogReset();
  NetnsGuard ns(env, netns, "bpf_xdp_attach");
  int idx = IfindexOrThrow(env, ifname, netns, "bpf_xdp_attach");
  int rc = bpf_xdp_attach(idx, fd, flags, nullptr);
  int err = errno;
  ns.Restore();
  if (rc < 0) throw BpfErr(env, "bpf_xdp_attach", rc == -1 ? err : -rc, Where(ifname, netns));
  return env.Undefined();
}

// xdpDetach(ifname, flags, netns?, oldProgFd?): with oldProgFd >= 0 only that program is detached (the
// kernel answers EEXIST when another one is attached).
Napi::Value XdpDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  uint32_t flags = static_cast<uint32_t>(ArgInt(info, 1, "flags"));
  std::string netns = ArgOptString(info, 2);
  int oldFd = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : -1;
  LogReset();
  NetnsGuard ns(env, netns, "bpf_xdp_detach");
  int idx = IfindexOrThrow(env, ifname, netns, "bpf_xdp_detach");
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
  if (oldFd >= 0) {
    opts.old_prog_fd = oldFd;
    flags |= XDP_FLAGS_REPLACE;
  }
  int rc = bpf_xdp_detach(idx, flags, &opts);
  int err = errno;
  ns.Restore();
  if (rc < 0) throw BpfErr(env, "bpf_xdp_detach", rc == -1 ? err : -rc, Where(ifname, netns));
  return env.Undefined();
}

// xdpQuery(ifname, netns?) -> {attachMode, progId, drvProgId, skbProgId, hwProgId}
Napi::Value XdpQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname = ArgString(info, 0, "ifname");
  std::string netns = ArgOptString(info, 1);
  LogReset();
  NetnsGuard ns(env, netns, "bpf_xdp_query");
  int idx = IfindexOrThrow(env, ifname, netns, "bpf_xdp_query");
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  int rc = bpf_xdp_query(idx, 0, &q);
  int err = errno;
  ns.Restore();
  if (rc < 0) throw BpfErr(env, "bpf_xdp_query", rc == -1 ? err : -rc, Where(ifname, netns));
  Napi::Object o = Napi::Object::New(env);
  o.Set("attachMode", static_cast<double>(q.attach_mode));
  o.Set("progId", static_cast<double>(q.prog_id));
  o.Set("drvProgId", static_cast<double>(q.drv_prog_id));
  o.Set("skbProgId", static_cast<double>(q.skb_prog_id));
  o.Set("hwProgId", static_cast<double>(q.hw_prog_id));
  return o;
}

struct TcArgs {
  std::string ifname, netns;
  bpf_tc_attach_point point;
  uint32_t priority, handle;
};

// Common tail of the tc calls: (ifname, ingress, priority, handle, netns?) starting at argument `at`.
TcArgs ParseTc(const Napi::CallbackInfo& info, size_t at) {
  TcArgs a;
  a.ifname = ArgString(info, at, "ifname");
  if (info.Length() <= at + 1 || !info[at + 1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "ingress must be a boolean");
  a.point = info[at + 1].As<Napi::Boolean>().Value() ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  a.priority = static_cast<uint32_t>(ArgInt(info, at + 2, "priority"));
  a.handle = static_cast<uint32_t>(ArgInt(info, at + 3, "handle"));
  a.netns = ArgOptString(info, at + 4);
  return a;
}

// tcAttach(progFd, ifname, ingress, priority, handle, netns?, replace) -> progId
Napi::Value TcAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgInt(info, 0, "progFd"));
  TcArgs a = ParseTc(info, 1);
  bool replace = info.Length() > 6 && info[6].ToBoolean().Value();
  LogReset();
  NetnsGuard ns(env, a.netns, "bpf_tc_attach");
  int idx = IfindexOrThrow(env, a.ifname, a.netns, "bpf_tc_hook_create");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = idx, .attach_point = a.point);
  int rc = bpf_tc_hook_create(&hook);
  // The clsact qdisc is shared by both directions and by other filters: an existing one is fine.
  if (rc < 0 && rc != -EEXIST) {
    ns.Restore();
    throw BpfErr(env, "bpf_tc_hook_create", -rc, Where(a.ifname, a.netns));
  }
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd, .flags = replace ? static_cast<__u32>(BPF_TC_F_REPLACE) : 0u, .handle = a.handle,
              .priority = a.priority);
  rc = bpf_tc_attach(&hook, &opts);
  ns.Restore();
  if (rc < 0) throw BpfErr(env, "bpf_tc_attach", -rc, Where(a.ifname, a.netns));
  return Napi::Number::New(env, opts.prog_id);
}

// tcDetach(ifname, ingress, priority, handle, netns?)
Napi::Value TcDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcArgs a = ParseTc(info, 0);
  LogReset();
  NetnsGuard ns(env, a.netns, "bpf_tc_detach");
  int idx = IfindexOrThrow(env, a.ifname, a.netns, "bpf_tc_detach");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = idx, .attach_point = a.point);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = a.handle, .priority = a.priority);
  int rc = bpf_tc_detach(&hook, &opts);
  ns.Restore();
  if (rc < 0) throw BpfErr(env, "bpf_tc_detach", -rc, Where(a.ifname, a.netns));
  return env.Undefined();
}

// tcQuery(ifname, ingress, priority, handle, netns?) -> progId, or 0 when nothing is attached there.
Napi::Value TcQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcArgs a = ParseTc(info, 0);
  LogReset();
  NetnsGuard ns(env, a.netns, "bpf_tc_query");
  int idx = IfindexOrThrow(env, a.ifname, a.netns, "bpf_tc_query");
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = idx, .attach_point = a.point);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = a.handle, .priority = a.priority);
  int rc = bpf_tc_query(&hook, &opts);
  ns.Restore();
  // No clsact qdisc (EINVAL) or no such filter (ENOENT) both mean "not attached".
  if (rc == -ENOENT || rc == -EINVAL) return Napi::Number::New(env, 0);
  if (rc < 0) throw BpfErr(env, "bpf_tc_query", -rc, Where(a.ifname, a.netns));
  return Napi::Number::New(env, opts.prog_id);
}

}  // namespace

void InitAttach(Napi::Env env, Napi::Object exports) {
  exports.Set("ifindex", Napi::Function::New(env, Ifindex));
  exports.Set("xdpAttach", Napi::Function::New(env, XdpAttach));
  exports.Set("xdpDetach", Napi::Function::New(env, XdpDetach));
  exports.Set("xdpQuery", Napi::Function::New(env, XdpQuery));
  exports.Set("tcAttach", Napi::Function::New(env, TcAttach));
  exports.Set("tcDetach", Napi::Function::New(env, TcDetach));
  exports.Set("tcQuery", Napi::Function::New(env, TcQuery));
}

}  // namespace ptxdp
