// Test support: Gander's router (nginx with deploy/k8s/base/router's
// configuration) run as a real, unprivileged child process on loopback, in
// front of workers given by port.
//
//   absl::StatusOr<std::unique_ptr<RouterProcess>> router =
//       RouterProcess::Start({worker_port_a, worker_port_b});
//   auto channel = Connect((*router)->grpc_port());
//
// The configuration is the deployed one: deploy/k8s/base/router/router.sh
// renders nginx.conf.template (from the test's runfiles; declare
// data = ["//deploy:router_config"]) with the workers' loopback addresses,
// a free gRPC port, a free /healthz port and cleartext. nginx runs in the
// foreground (`daemon off;`) with its own prefix, pid file, temporary
// directories and error log: under TEST_TMPDIR, or, when the test runs as
// root, as the user `nobody` under a private directory in /tmp (nobody
// cannot enter root's TEST_TMPDIR), whose log is copied to
// TEST_TMPDIR/router.log and which is removed when the router stops.
//
// Failure: Start returns FAILED_PRECONDITION when /usr/sbin/nginx or the
// runfiles are missing, UNAVAILABLE when nginx exits or does not answer
// /healthz in time (its log quoted). Thread-compatible. The destructor stops
// nginx (SIGTERM, then SIGKILL after 5 s); nginx also gets SIGTERM if the
// thread that started it ends first.
#ifndef GANDER_TESTS_FAILOVER_ROUTER_PROCESS_H_
#define GANDER_TESTS_FAILOVER_ROUTER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gander::testing {

inline constexpr char kNginxBinary[] = "/usr/sbin/nginx";
inline constexpr char kRouterScript[] = "deploy/k8s/base/router/router.sh";
inline constexpr char kRouterTemplate[] = "deploy/k8s/base/router/nginx.conf.template";

// A loopback TCP port that was free a moment ago.
absl::StatusOr<int> PickFreePort();

class RouterProcess {
 public:
  static absl::StatusOr<std::unique_ptr<RouterProcess>> Start(const std::vector<int>& worker_ports);
  ~RouterProcess();

  int grpc_port() const { return grpc_port_; }
  int health_port() const { return health_port_; }
  pid_t pid() const { return pid_; }
  // The rendered configuration and nginx's log so far.
  std::string Config() const;
  std::string Log() const;

 private:
  RouterProcess(std::string dir, bool private_dir, pid_t pid, int grpc_port, int health_port)
      : dir_(std::move(dir)),
        private_dir_(private_dir),
        pid_(pid),
        grpc_port_(grpc_port),
        health_port_(health_port) {}
  void Stop();

  const std::string dir_;
  const bool private_dir_;
  pid_t pid_;
  const int grpc_port_;
  const int health_port_;
};

}  // namespace gander::testing

#endif  // GANDER_TESTS_FAILOVER_ROUTER_PROCESS_H_
