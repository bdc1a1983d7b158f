// tunOpen(name) -> { fd, name }
//   Creates (or attaches to) the TUN device `name` (IFF_TUN | IFF_NO_PI: every read and write is one bare IP
//   packet) and returns its file descriptor, close-on-exec. The device disappears when the fd is closed.
// tunRead(fd, maxLen, timeoutMs) -> Promise<Buffer | null>
//   Waits up to timeoutMs for one packet on a worker thread (poll + read) and resolves with it, or with null
//   on timeout, so a reader loop can notice that it should stop. Rejects with an Error naming errno.
// The FEC relay (dataplane/agent/wanopt.ts) reads the packets of FEC classes that policy routing sends into
// the device and writes recovered packets back into it. Needs CAP_NET_ADMIN. Node cannot ioctl, hence C.
#include <napi.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
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

class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, int fd, size_t maxLen, int timeoutMs)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd), buf_(maxLen), timeout_(timeoutMs) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    pollfd p{fd_, POLLIN, 0};
    int r;
    do { r = poll(&p, 1, timeout_); } while (r < 0 && errno == EINTR);
    if (r < 0) { err_ = errno; what_ = "tunRead: poll"; return; }
    if (r == 0) return;  // timeout: n_ stays -1
    if (p.revents & (POLLERR | POLLNVAL | POLLHUP)) { err_ = EBADF; what_ = "tunRead: device gone"; return; }
    ssize_t n;
    do { n = read(fd_, buf_.data(), buf_.size()); } while (n < 0 && errno == EINTR);
    if (n < 0) { if (errno == EAGAIN) return; err_ = errno; what_ = "tunRead: read"; return; }
    n_ = n;
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_) { deferred_.Reject(TunErr(env, what_, err_).Value()); return; }
    if (n_ < 0) { deferred_.Resolve(env.Null()); return; }
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, buf_.data(), static_cast<size_t>(n_)));
  }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  std::vector<uint8_t> buf_;
  int timeout_;
  ssize_t n_ = -1;
  int err_ = 0;
  std::string what_;
};

}  // namespace

Napi::Value TunOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "tunOpen(name): name must be a string");
  std::string name = info[0].As<Napi::String>();
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('/') != std::string::npos)
    throw Napi::TypeError::New(env, "tunOpen: name \"" + name + "\" must be 1.." + std::to_string(IFNAMSIZ - 1) + " characters without '/'");
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
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

Napi::Value TunRead(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "tunRead(fd, maxLen, timeoutMs): all three must be numbers");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t maxLen = info[1].As<Napi::Number>().Int64Value();
  int timeout = info[2].As<Napi::Number>().Int32Value();
  if (fd < 0) throw Napi::RangeError::New(env, "tunRead: fd must be >= 0");
  if (maxLen < 1 || maxLen > 65536) throw Napi::RangeError::New(env, "tunRead: maxLen must be 1..65536");
  if (timeout < 0 || timeout > 60000) throw Napi::RangeError::New(env, "tunRead: timeoutMs must be 0..60000");
  auto *w = new ReadWorker(env, fd, static_cast<size_t>(maxLen), timeout);
  auto p = w->Promise();
  w->Queue();
  return p;
}
