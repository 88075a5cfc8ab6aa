// HttpEndpoints: real HTTP/1.1 requests over a TCP socket to 127.0.0.1.
#include "controller/runtime/http_endpoints.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "tests/support/free_port.h"

namespace su {
namespace {


// Sends GET path with Connection: close and returns the raw response (status line, headers, body).
std::string Get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, n);
  ::close(fd);
  return out;
}

std::string Body(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

TEST(HttpEndpointsTest, ServesMetricsAndProbes) {
  Metrics metrics;
  metrics.IncCounter(kReconcilesTotal, {{"result", "success"}}, 3);
  std::atomic<bool> ready{false};
  HttpEndpointsOptions o;
  o.host = "127.0.0.1";
  o.port = su::testing::FreeTcpPort();
  o.metrics = &metrics;
  o.ready = [&] { return ready.load(); };
  auto e = HttpEndpoints::Start(o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();

  std::string m = Get(o.port, "/metrics");
  EXPECT_EQ(m.rfind("HTTP/1.1 200", 0), 0u) << m;
  EXPECT_NE(m.find("text/plain; version=0.0.4"), std::string::npos) << m;
  EXPECT_EQ(Body(m), metrics.Render());

  EXPECT_EQ(Get(o.port, "/healthz").rfind("HTTP/1.1 200", 0), 0u);
  std::string r = Get(o.port, "/readyz");
  EXPECT_EQ(r.rfind("HTTP/1.1 503", 0), 0u) << r;
  ready = true;
  EXPECT_EQ(Get(o.port, "/readyz").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(Get(o.port, "/nope").rfind("HTTP/1.1 404", 0), 0u);

  (*e)->Stop();
  (*e)->Stop();
  EXPECT_EQ(Get(o.port, "/healthz"), "connect failed");
}

TEST(HttpEndpointsTest, PortInUseIsUnavailable) {
  HttpEndpointsOptions o;
  o.host = "127.0.0.1";
  o.port = su::testing::FreeTcpPort();
  auto first = HttpEndpoints::Start(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = HttpEndpoints::Start(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
}

TEST(HttpEndpointsTest, RejectsBadPort) {
  HttpEndpointsOptions o;
  o.port = 70000;
  EXPECT_EQ(HttpEndpoints::Start(o).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace su
