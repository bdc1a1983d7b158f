// tunOpen(name) -> { fd, name }
//   Creates (or attaches to) the TUN device `name` (IFF_TUN | IFF_NO_PI: every read and write is one bare IP
//   packet) and returns its file descriptor, close-on-exec and non-blocking. The device disappears when the
//   fd is closed.
// tunWatch(fd, maxLen, onPackets) -> id
//   Watches the fd on the event loop (uv_poll): whenever it is readable, reads up to 64 packets (each at most
//   maxLen bytes) without blocking and calls onPackets(null, [Buffer, ...]); on a read error or a vanished
//   device calls onPackets(Error) once and stops. No thread is held while the device is idle.
// tunUnwatch(id)
//   Stops watching (idempotent); the fd may be closed right after.
// Why not a blocking poll + read on the libuv thread pool (the first version): every idle device then holds
//   one of the pool's 4 threads for its whole wait, so with 5 FEC classes the busy device's reads queued
//   behind the idle ones' timeouts — ~20 packets/s got through (bench/wanopt.ts, docs/benchmarks.md).
// The FEC relay (dataplane/agent/wanopt.ts) reads the packets of FEC classes that policy routing sends into
// the device and writes recovered packets back into it. Needs CAP_NET_ADMIN. Node cannot ioctl, hence C.
#include <napi.h>
#include <uv.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <map>
#include <string>
#include <sys/ioctl.h>
#include <unistd.h>
#include <vector>

namespace {

Napi::Error TunErr(Napi::Env env, const std::string &what, int err) {
  auto e = Napi::Error::New(env, what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

// Batch bound per readable event, so that one busy device cannot keep the event loop to itself.
constexpr int kBatch = 64;

struct Watch {
  uv_poll_t poll;
  napi_env env;
  int fd;
  uint32_t id;
  std::vector<uint8_t> buf;
  Napi::FunctionReference cb;
  Napi::AsyncContext *ctx;
};

// Live watches by id: tunUnwatch with a stale id must not touch freed memory.
std::map<uint32_t, Watch *> watches;
uint32_t nextId = 1;

void OnClosed(uv_handle_t *h) {
  auto *w = static_cast<Watch *>(h->data);
  delete w->ctx;
  delete w;
}

void Stop(Watch *w) {
  if (watches.erase(w->id) == 0) return;
  uv_poll_stop(&w->poll);
  w->cb.Reset();
  uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), OnClosed);
}

void Call(Watch *w, std::initializer_list<napi_value> args) {
  Napi::Env env(w->env);
  try {
    w->cb.MakeCallback(env.Global(), args, *w->ctx);
  } catch (const Napi::Error &e) {
    napi_fatal_exception(w->env, e.Value());
  }
}

void OnReadable(uv_poll_t *h, int status, int events) {
  auto *w = static_cast<Watch *>(h->data);
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  int err = 0;
  std::string what;
  if (status < 0) { err = -status; what = "tunWatch: poll"; }
  else if (events & UV_DISCONNECT) { err = EBADF; what = "tunWatch: device gone"; }
  auto packets = Napi::Array::New(env);
  uint32_t n = 0;
  while (!err && n < kBatch) {
    ssize_t r = read(w->fd, w->buf.data(), w->buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r < 0) { err = errno; what = "tunWatch: read"; break; }
    packets.Set(n++, Napi::Buffer<uint8_t>::Copy(env, w->buf.data(), static_cast<size_t>(r)));
  }
  // Deliver what was read before an error, then report the error once and stop.
  if (n > 0 && watches.count(w->id)) Call(w, {env.Null(), packets});
  // The callback may have stopped the watch (its memory lives until OnClosed, on a later loop turn).
  if (err && watches.count(w->id)) {
    Call(w, {TunErr(env, what, err).Value()});
    Stop(w);
  }
}

}  // namespace

Napi::Value TunOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "tunOpen(name): name must be a string");
  std::string name = info[0].As<Napi::String>();
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos)
    throw Napi::TypeError::New(env, "tunOpen: name \"" + name + "\" must be 1.." + std::to_string(IFNAMSIZ - 1) + " characters without '/'");
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw TunErr(env, "tunOpen: open /dev/net/tun", errno);
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    throw TunErr(env, "tunOpen: TUNSETIFF " + name, e);
  }
  auto out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

Napi::Value TunWatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction())
    throw Napi::TypeError::New(env, "tunWatch(fd, maxLen, onPackets): fd and maxLen must be numbers, onPackets a function");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t maxLen = info[1].As<Napi::Number>().Int64Value();
  if (fd < 0) throw Napi::RangeError::New(env, "tunWatch: fd must be >= 0");
  if (maxLen < 1 || maxLen > 65536) throw Napi::RangeError::New(env, "tunWatch: maxLen must be 1..65536");
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) throw Napi::Error::New(env, "tunWatch: no event loop");
  auto *w = new Watch{};
  w->env = env;
  w->fd = fd;
  w->buf.resize(static_cast<size_t>(maxLen));
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) { delete w; throw TunErr(env, "tunWatch: uv_poll_init", -r); }
  w->poll.data = w;
  r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, OnReadable);
  if (r < 0) {
    // An initialised handle must be closed through the loop, never freed directly.
    w->ctx = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(&w->poll), OnClosed);
    throw TunErr(env, "tunWatch: uv_poll_start", -r);
  }
  w->cb = Napi::Persistent(info[2].As<Napi::Function>());
  w->ctx = new Napi::AsyncContext(env, "ptTunWatch");
  w->id = nextId++;
  watches[w->id] = w;
  return Napi::Number::New(env, w->id);
}

Napi::Value TunUnwatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "tunUnwatch(id): id must be a number");
  auto it = watches.find(info[0].As<Napi::Number>().Uint32Value());
  if (it != watches.end()) Stop(it->second);
  return env.Undefined();
}
