#!/usr/bin/python3
"""Shows that check_manifests.py catches each invariant it guards.

Each case takes the rendered manifests of an overlay (files named by the
environment variables RENDERED_CPU and RENDERED_GPU; GANDER_BINARY names the
gander binary for flag names), breaks one invariant, and expects the checker
to report exactly that violation; the unmodified manifests must pass.
Run by deploy/tools/check_manifests_test.sh.
"""

import copy
import os
import re
import sys
import unittest

import yaml

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_manifests  # noqa: E402  pylint: disable=wrong-import-position

COMPONENT = check_manifests.COMPONENT


def load(variable):
    with open(os.environ[variable], encoding="utf-8") as stream:
        return [d for d in yaml.safe_load_all(stream) if d]


RENDERED = {"cpu": load("RENDERED_CPU"), "gpu": load("RENDERED_GPU")}
KNOWN_FLAGS = check_manifests.known_flags_of(os.environ["GANDER_BINARY"])


def workload(documents, component):
    return next(d for d in documents if d.get("kind") in ("Deployment", "StatefulSet") and
                check_manifests.pod_labels(d).get(COMPONENT) == component)


def container(documents, component):
    return check_manifests.pod_spec(workload(documents, component))["containers"][0]


def named(documents, kind, name_prefix):
    return next(d for d in documents
                if d["kind"] == kind and d["metadata"]["name"].startswith(name_prefix))


def remove(documents, kind, name_prefix):
    documents.remove(named(documents, kind, name_prefix))


def set_arg(documents, component, flag, value):
    args = container(documents, component)["args"]
    for i, arg in enumerate(args):
        if arg.startswith("--%s=" % flag):
            args[i] = "--%s=%s" % (flag, value)
            return
    args.append("--%s=%s" % (flag, value))


def edit_router_config(documents, pattern, replacement):
    config_map = named(documents, "ConfigMap", "gander-router-config")
    template = config_map["data"]["nginx.conf.template"]
    edited = re.sub(pattern, replacement, template, flags=re.MULTILINE)
    assert edited != template, "pattern %r matched nothing" % pattern
    config_map["data"]["nginx.conf.template"] = edited


def set_router_env(documents, name, value):
    named(documents, "ConfigMap", "gander-router-env")["data"][name] = value


def store_policy_rules(documents):
    return named(documents, "NetworkPolicy", "gander-store")["spec"]["ingress"]


# (name, overlay, mutation, expected message fragment)
MUTATIONS = [
    ("worker readiness probe removed", "cpu",
     lambda d: container(d, "worker").pop("readinessProbe"), "no readinessProbe"),
    ("worker liveness probe over HTTP", "cpu",
     lambda d: container(d, "worker").update(livenessProbe={"httpGet": {"port": 9464}}),
     "livenessProbe is not a native gRPC probe"),
    ("store probe on the wrong port", "cpu",
     lambda d: container(d, "store")["readinessProbe"]["grpc"].update(port=50051),
     "readinessProbe probes port 50051"),
    ("worker listens elsewhere than its probes", "gpu",
     lambda d: set_arg(d, "worker", "listen", "0.0.0.0:50053"),
     "health service is on --listen port 50053"),
    ("worker container port not the listen port", "cpu",
     lambda d: container(d, "worker")["ports"][0].update(containerPort=50059),
     "container port grpc is 50059"),
    ("metrics port not the --metrics-listen port", "cpu",
     lambda d: set_arg(d, "store", "metrics-listen", "0.0.0.0:9999"),
     "--metrics-listen serves port 9999"),
    ("worker limits removed", "gpu",
     lambda d: container(d, "worker")["resources"].pop("limits"), "resources.limits.cpu is not set"),
    ("router requests removed", "cpu",
     lambda d: container(d, "router")["resources"].pop("requests"),
     "resources.requests.memory is not set"),
    ("store may run as root", "cpu",
     lambda d: check_manifests.pod_spec(workload(d, "store"))["securityContext"].pop(
         "runAsNonRoot"), "runAsNonRoot is not true"),
    ("router writable root filesystem", "cpu",
     lambda d: container(d, "router")["securityContext"].update(readOnlyRootFilesystem=False),
     "readOnlyRootFilesystem is not true"),
    ("worker privilege escalation", "gpu",
     lambda d: container(d, "worker")["securityContext"].pop("allowPrivilegeEscalation"),
     "allowPrivilegeEscalation is not false"),
    ("image tag latest", "cpu",
     lambda d: container(d, "store").update(image="gander/store:latest"), "uses the tag latest"),
    ("grace below the worker's drain", "cpu",
     lambda d: check_manifests.pod_spec(workload(d, "worker")).update(
         terminationGracePeriodSeconds=30), "is not above --shutdown-grace"),
    ("unknown flag", "cpu",
     lambda d: container(d, "worker")["args"].append("--max-open-stream=5"),
     "--max-open-stream is not a flag of `gander serve`"),
    ("undefined variable in a flag", "cpu",
     lambda d: set_arg(d, "worker", "lease-ttl", "$(GANDER_LEASE)"),
     "uses $(GANDER_LEASE), which no env or ConfigMap defines"),
    ("fixed worker id", "cpu",
     lambda d: set_arg(d, "worker", "worker-id", "worker"), "--worker-id must be the pod name"),
    ("worker store address wrong", "gpu",
     lambda d: set_arg(d, "worker", "store", "gander-store:50052"), "expected the store pod"),
    ("no auth tokens", "cpu",
     lambda d: container(d, "worker")["args"].remove(
         next(a for a in container(d, "worker")["args"] if a.startswith("--auth-tokens="))),
     "no --auth-tokens"),
    ("threads above the CPU limit", "cpu",
     lambda d: set_arg(d, "worker", "threads", "64"), "--threads=64 exceeds the CPU limit"),
    ("rollout may drop workers", "cpu",
     lambda d: workload(d, "worker")["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=1),
     "rollingUpdate.maxUnavailable is not 0"),
    ("store without a volume claim", "cpu",
     lambda d: workload(d, "store")["spec"].pop("volumeClaimTemplates"),
     "no volumeClaimTemplates"),
    ("router hashes on the client address", "cpu",
     lambda d: edit_router_config(d, r"hash \$gander_route_key", "hash $remote_addr"),
     "hashes on $remote_addr, not on the x-gander-stream-id header"),
    ("router map from another header", "gpu",
     lambda d: edit_router_config(d, r"map \$http_x_gander_stream_id", "map $http_x_session"),
     "not on the x-gander-stream-id header"),
    ("router hash not consistent", "cpu",
     lambda d: edit_router_config(d, r"hash \$gander_route_key consistent;",
                                  "hash $gander_route_key;"), "is not `consistent`"),
    ("router does not fail over", "cpu",
     lambda d: edit_router_config(d, r"^\s*grpc_next_upstream error timeout;\n", ""),
     "does not retry on `error timeout`"),
    ("router points at another port", "cpu",
     lambda d: set_router_env(d, "GANDER_WORKER_PORT", "50052"), "GANDER_WORKER_PORT=50052"),
    ("router probes the wrong port", "cpu",
     lambda d: container(d, "router")["readinessProbe"]["httpGet"].update(port=8080),
     "readinessProbe is not GET /healthz"),
    ("worker budget removed", "cpu",
     lambda d: remove(d, "PodDisruptionBudget", "gander-worker"),
     "no PodDisruptionBudget selects the worker pods"),
    ("autoscaler removed", "gpu",
     lambda d: remove(d, "HorizontalPodAutoscaler", "gander-worker"),
     "no HorizontalPodAutoscaler scales Deployment/gander-worker"),
    ("autoscaler down to one worker", "cpu",
     lambda d: named(d, "HorizontalPodAutoscaler", "gander-worker")["spec"].update(minReplicas=1),
     "minReplicas 1"),
    ("store network policy removed", "cpu",
     lambda d: remove(d, "NetworkPolicy", "gander-store"),
     "no NetworkPolicy selects the store pods"),
    ("store open to everyone", "cpu",
     lambda d: store_policy_rules(d)[0].pop("from"), "lets anyone reach the store's gRPC port"),
    ("store open to a namespace", "gpu",
     lambda d: store_policy_rules(d)[0]["from"].append({"namespaceSelector": {}}),
     "only the router and the workers may"),
    ("gpu worker without a GPU", "gpu",
     lambda d: [container(d, "worker")["resources"][s].pop("nvidia.com/gpu")
                for s in ("requests", "limits")],
     "does not request nvidia.com/gpu"),
    ("gpu worker on the CPU backend", "gpu",
     lambda d: set_arg(d, "worker", "backend", "cpu"), "runs --backend=cpu, not cuda"),
    ("cpu worker on the CUDA backend", "cpu",
     lambda d: set_arg(d, "worker", "backend", "cuda"), "overlay's worker runs --backend=cuda"),
    ("gpu worker on the CPU image", "gpu",
     lambda d: container(d, "worker").update(image="gander/worker-cpu:0.1.0"),
     "is not the CUDA image"),
    ("cpu worker asks for a GPU", "cpu",
     lambda d: container(d, "worker")["resources"]["limits"].update({"nvidia.com/gpu": 1}),
     "the cpu overlay's worker requests nvidia.com/gpu"),
]


class CheckManifestsTest(unittest.TestCase):

    def test_rendered_overlays_pass(self):
        for overlay, documents in RENDERED.items():
            with self.subTest(overlay=overlay):
                self.assertEqual(check_manifests.check(documents, overlay, KNOWN_FLAGS), [])

    def test_each_broken_invariant_is_reported(self):
        for name, overlay, mutate, expected in MUTATIONS:
            with self.subTest(mutation=name):
                documents = copy.deepcopy(RENDERED[overlay])
                mutate(documents)
                errors = check_manifests.check(documents, overlay, KNOWN_FLAGS)
                self.assertTrue(any(expected in e for e in errors),
                                "%r not among the reported violations:\n  %s"
                                % (expected, "\n  ".join(errors) or "(none)"))

    def test_command_line_exit_status(self):
        path = os.path.join(os.environ.get("TEST_TMPDIR", "/tmp"), "broken.yaml")
        documents = copy.deepcopy(RENDERED["cpu"])
        remove(documents, "HorizontalPodAutoscaler", "gander-worker")
        with open(path, "w", encoding="utf-8") as out:
            yaml.safe_dump_all(documents, out)
        self.assertEqual(check_manifests.main(["--overlay=cpu", path]), 1)
        self.assertEqual(check_manifests.main(["--overlay=cpu", os.environ["RENDERED_CPU"]]), 0)
        self.assertEqual(check_manifests.main(["--overlay=cpu", path + ".missing"]), 2)


if __name__ == "__main__":
    unittest.main()
