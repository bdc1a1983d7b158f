// Errors, libbpf log capture, namespace switching and argument helpers (see common.h).
#include "common.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace ptxdp {

namespace {
// JS calls into the addon are synchronous on the thread that owns the env; thread_local keeps worker
// threads that load the addon from mixing their logs.
thread_local std::string g_log;
bool g_echo = false;

int Print(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG && !g_echo) return 0;
  char buf[1024];
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(buf, sizeof buf, fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  std::string text;
  if (static_cast<size_t>(n) < sizeof buf) {
    text.assign(buf, n);
  } else {
    // Verifier logs arrive as one huge "%s" argument.
    text.assign(static_cast<size_t>(n) + 1, '\0');
    vsnprintf(text.data(), text.size(), fmt, args);
    text.resize(n);
  }
  if (g_echo) fputs(text.c_str(), stderr);
  if (level == LIBBPF_DEBUG) return 0;
  g_log += text;
  // The verifier log can reach megabytes; keep the head and the (more telling) tail.
  const size_t cap = 1 << 20;
  if (g_log.size() > cap) g_log = g_log.substr(0, 64 << 10) + "\n[...]\n" + g_log.substr(g_log.size() - (cap - (80 << 10)));
  return 0;
}
}  // namespace

void LogReset() { g_log.clear(); }

std::string LogText() {
  std::string s = g_log;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void InstallLogger() {
  const char* e = getenv("PATRONUS_LIBBPF_DEBUG");
  g_echo = e && *e && strcmp(e, "0") != 0;
  libbpf_set_print(Print);
}

Napi::Error BpfErr(Napi::Env env, const std::string& call, int err, const std::string& detail) {
  if (err < 0) err = -err;
  char text[256] = {0};
  if (libbpf_strerror(err, text, sizeof text) != 0 || !text[0]) snprintf(text, sizeof text, "%s", strerror(err));
  std::string msg = call + ": " + text + " (errno " + std::to_string(err) + ")";
  if (!detail.empty()) msg += ": " + detail;
  std::string log = LogText();
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("call", Napi::String::New(env, call));
  e.Set("detail", Napi::String::New(env, detail));
  e.Set("libbpfLog", Napi::String::New(env, log));
  return e;
}

void Check(Napi::Env env, int rc, const std::string& call, const std::string& detail) {
  if (rc >= 0) return;
  int err = rc == -1 && errno ? errno : -rc;
  throw BpfErr(env, call, err, detail);
}

NetnsGuard::NetnsGuard(Napi::Env env, const std::string& name, const std::string& call) : env_(env) {
  if (name.empty()) return;
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    throw BpfErr(env, call, EINVAL, "network namespace name \"" + name + "\" must be a plain name under /run/netns");
  }
  orig_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig_ < 0) throw BpfErr(env, call, errno, "cannot open /proc/thread-self/ns/net");
  std::string path = "/run/netns/" + name;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    close(orig_);
    orig_ = -1;
    throw BpfErr(env, call, err, "network namespace \"" + name + "\" not found (" + path + ")");
  }
  if (setns(fd, CLONE_NEWNET) < 0) {
    int err = errno;
    close(fd);
    close(orig_);
    orig_ = -1;
    throw BpfErr(env, call, err, "setns into " + path + " failed");
  }
  close(fd);
  switched_ = true;
}

void NetnsGuard::Restore() {
  if (switched_) {
    if (setns(orig_, CLONE_NEWNET) < 0) throw BpfErr(env_, "setns", errno, "cannot return to the original network namespace");
    switched_ = false;
  }
  if (orig_ >= 0) close(orig_);
  orig_ = -1;
}

NetnsGuard::~NetnsGuard() {
  if (switched_ && setns(orig_, CLONE_NEWNET) < 0) {
    fprintf(stderr, "patronus xdp addon: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  if (orig_ >= 0) close(orig_);
}

int IfindexOrThrow(Napi::Env env, const std::string& ifname, const std::string& netns, const std::string& call) {
  if (ifname.empty() || ifname.size() >= IF_NAMESIZE) {
    throw BpfErr(env, call, EINVAL, "interface name \"" + ifname + "\" must be 1.." + std::to_string(IF_NAMESIZE - 1) + " characters");
  }
  unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) {
    int err = errno == ENXIO || errno == 0 ? ENODEV : errno;
    throw BpfErr(env, call, err,
                 "no interface \"" + ifname + "\" in " + (netns.empty() ? std::string("the current network namespace") : "network namespace \"" + netns + "\""));
  }
  return static_cast<int>(idx);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::string ArgOptString(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return "";
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a string or undefined");
  return info[i].As<Napi::String>().Utf8Value();
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Int64Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

}  // namespace ptxdp
