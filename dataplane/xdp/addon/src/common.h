// Shared plumbing of the Patronus libbpf addon: typed errors, capture of libbpf's own messages, and the
// guard that runs a call inside another network namespace and always switches back.
#pragma once

#include <napi.h>

#include <string>

namespace ptxdp {

// Start capturing libbpf's warn/info output for the current call (the previous capture is dropped).
void LogReset();
// Everything libbpf printed since LogReset(), without trailing newlines.
std::string LogText();
// Install the libbpf print callback (once, at module load).
void InstallLogger();

// The JS error every failing call throws: message "<call>: <strerror> (errno N)[: detail]" plus libbpf's
// captured text; properties errno (positive), call, detail and libbpfLog. The TypeScript layer turns it into
// a BpfError.
Napi::Error BpfErr(Napi::Env env, const std::string& call, int err, const std::string& detail = "");

// Throw BpfErr unless rc >= 0; rc is a libbpf return value (negative errno) or -1 with errno set.
void Check(Napi::Env env, int rc, const std::string& call, const std::string& detail = "");

// Runs the enclosing scope inside /run/netns/<name> (no-op for an empty name) in the calling thread.
// Restore() switches back and throws if that fails; the destructor switches back too (when an exception
// unwinds the scope) and aborts the process if it cannot, because continuing in the wrong namespace
// would silently act on the wrong network.
class NetnsGuard {
 public:
  NetnsGuard(Napi::Env env, const std::string& name, const std::string& call);
  ~NetnsGuard();
  void Restore();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  Napi::Env env_;
  int orig_ = -1;
  bool switched_ = false;
};

// if_nametoindex in the current namespace; throws ENODEV naming the interface and namespace.
int IfindexOrThrow(Napi::Env env, const std::string& ifname, const std::string& netns, const std::string& call);

// Argument helpers: throw a TypeError naming the argument when the JS value has the wrong type.
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* what);
std::string ArgOptString(const Napi::CallbackInfo& info, size_t i);
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what);
Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* what);

// Registration hooks of the other translation units.
void InitObject(Napi::Env env, Napi::Object exports);
void InitMaps(Napi::Env env, Napi::Object exports);
void InitAttach(Napi::Env env, Napi::Object exports);
void InitProg(Napi::Env env, Napi::Object exports);

}  // namespace ptxdp
