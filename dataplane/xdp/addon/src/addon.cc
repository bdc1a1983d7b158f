// Entry point of the Patronus libbpf addon (patronus_xdp.node): registers every native function. The
// TypeScript layer in dataplane/xdp/index.ts is the only caller; it wraps these functions in typed classes.
#include "common.h"

namespace ptxdp {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLogger();
  InitObject(env, exports);
  InitMaps(env, exports);
  InitAttach(env, exports);
  InitProg(env, exports);
  return exports;
}

}  // namespace ptxdp

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return ptxdp::Init(env, exports); }

NODE_API_MODULE(patronus_xdp, InitAddon)
