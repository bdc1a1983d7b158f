// transparentListen(host, port, backlog, netns?) -> fd
// A listening TCP socket with IP_TRANSPARENT (IPV6_TRANSPARENT for an IPv6 host), so that connections that
// nftables TPROXY diverts to it are accepted with their original destination as the local address. Node's
// net module cannot set that option; the caller hands the fd to net.Server.listen({ fd }). With `netns`
// (a name under /run/netns) the socket is created inside that network namespace — a socket stays in the
// namespace it was created in — and the thread returns to its own namespace before returning.
// Needs CAP_NET_ADMIN. Errors throw an Error naming the failing call and errno.
#include <napi.h>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

Napi::Error SysErr(Napi::Env env, const std::string &what, int err) {
  auto e = Napi::Error::New(env, "transparentListen: " + what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

int OpenListener(Napi::Env env, const std::string &host, int port, int backlog) {
  sockaddr_storage ss{};
  socklen_t len;
  bool v6 = host.find(':') != std::string::npos;
  if (v6) {
    auto *a = reinterpret_cast<sockaddr_in6 *>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) throw Napi::TypeError::New(env, "transparentListen: host \"" + host + "\" is not an IP address");
    len = sizeof(sockaddr_in6);
  } else {
    auto *a = reinterpret_cast<sockaddr_in *>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) throw Napi::TypeError::New(env, "transparentListen: host \"" + host + "\" is not an IP address");
    len = sizeof(sockaddr_in);
  }
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SysErr(env, "socket", errno);
  int one = 1;
  auto fail = [&](const std::string &what) { int err = errno; close(fd); return SysErr(env, what, err); };
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) throw fail("SO_REUSEADDR");
  if (v6 ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof one) < 0 : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof one) < 0)
    throw fail(v6 ? "IPV6_TRANSPARENT" : "IP_TRANSPARENT");
  if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) < 0) throw fail("bind " + host + ":" + std::to_string(port));
  if (listen(fd, backlog) < 0) throw fail("listen");
  return fd;
}

}  // namespace

Napi::Value TransparentListen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "transparentListen(host, port, backlog, netns?): host must be a string, port and backlog numbers");
  std::string host = info[0].As<Napi::String>();
  int port = info[1].As<Napi::Number>().Int32Value(), backlog = info[2].As<Napi::Number>().Int32Value();
  if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "transparentListen: port must be 0..65535");
  std::string ns = info.Length() > 3 && info[3].IsString() ? std::string(info[3].As<Napi::String>()) : "";
  if (ns.empty()) return Napi::Number::New(env, OpenListener(env, host, port, backlog));
  if (ns.find('/') != std::string::npos || ns == "." || ns == "..") throw Napi::TypeError::New(env, "transparentListen: netns \"" + ns + "\" must be a plain name under /run/netns");
  int orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (orig < 0) throw SysErr(env, "open /proc/thread-self/ns/net", errno);
  int target = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) { int err = errno; close(orig); throw SysErr(env, "open /run/netns/" + ns, err); }
  if (setns(target, CLONE_NEWNET) < 0) { int err = errno; close(orig); close(target); throw SysErr(env, "setns " + ns, err); }
  close(target);
  int fd = -1;
  std::string failure;
  int failErrno = 0;
  try {
    fd = OpenListener(env, host, port, backlog);
  } catch (const Napi::Error &e) {
    failure = e.Message();
    failErrno = -1;
  }
  // Return to our own namespace before anything else, even on failure.
  if (setns(orig, CLONE_NEWNET) < 0) { int err = errno; close(orig); if (fd >= 0) close(fd); throw SysErr(env, "setns back to the original namespace", err); }
  close(orig);
  if (failErrno) throw Napi::Error::New(env, failure);
  return Napi::Number::New(env, fd);
}
