#!/usr/bin/python3
"""Checks the invariants of Gander's rendered Kubernetes manifests.

Reads the output of `kubectl kustomize deploy/k8s/overlays/OVERLAY` and
reports every broken invariant: the things that must stay true whatever is
tuned (probes on the health service's port, resources, non-root, ports that
match the servers' flags, the router hashing on x-gander-stream-id, the
disruption budget, autoscaler and network policies, the GPU request).

  kubectl kustomize deploy/k8s/overlays/gpu > gpu.yaml
  check_manifests.py --overlay=gpu --gander=bazel-bin/cli/gander gpu.yaml

With --gander, every flag a container passes to `gander serve` or
`gander store-server` must be one that subcommand's --help lists.

Exit status: 0 when every invariant holds, 1 when one does not (each
violation on its own line), 2 on bad usage or an unreadable input.
As a module: check(documents, overlay, known_flags) returns the violations.
"""

import argparse
import re
import subprocess
import sys

import yaml

COMPONENT = "app.kubernetes.io/component"
STREAM_HEADER_VARIABLE = "$http_x_gander_stream_id"
SUBCOMMANDS = {"worker": "serve", "store": "store-server"}
# Defaults of the flags the checks read, as `gander ... --help` states them.
DEFAULTS = {
    "serve": {"listen": "0.0.0.0:50051", "metrics-listen": "0.0.0.0:9464",
              "shutdown-grace": "20s", "lease-ttl": "30s", "threads": "0"},
    "store-server": {"listen": "0.0.0.0:50052", "metrics-listen": "0.0.0.0:9465",
                     "shutdown-grace": "10s"},
}


def parse_duration(text):
    """Seconds in a Go/absl-style duration ("30s", "1m30s", "500ms"), or None."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)", text or "")
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    return sum(float(a) * units[b] for a, b in parts)


def port_of(address):
    """The port of HOST:PORT as an int, or None."""
    if not address or ":" not in address:
        return None
    port = address.rsplit(":", 1)[1]
    return int(port) if port.isdigit() else None


def quantity(text):
    """A Kubernetes CPU or memory quantity as a float (cores or bytes)."""
    text = str(text)
    suffixes = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
                "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for suffix, factor in sorted(suffixes.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def labels_match(selector, labels):
    """Whether a matchLabels selector selects these labels."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


class Manifests:
    """The rendered documents, indexed."""

    def __init__(self, documents):
        self.documents = [d for d in documents if isinstance(d, dict)]

    def of_kind(self, kind):
        return [d for d in self.documents if d.get("kind") == kind]

    def named(self, kind, name):
        for d in self.of_kind(kind):
            if d.get("metadata", {}).get("name") == name:
                return d
        return None

    def workloads(self):
        return [d for d in self.documents if d.get("kind") in ("Deployment", "StatefulSet")]

    def workload(self, component):
        for d in self.workloads():
            if pod_labels(d).get(COMPONENT) == component:
                return d
        return None


def pod_labels(workload):
    return workload.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {}) or {}


def pod_spec(workload):
    return workload.get("spec", {}).get("template", {}).get("spec", {}) or {}


def container_env(container, manifests):
    """The container's environment: env values and envFrom ConfigMaps.

    Returns (variables, problems); fieldRef values stand as "<fieldRef:PATH>".
    """
    variables, problems = {}, []
    for source in container.get("envFrom", []) or []:
        ref = source.get("configMapRef")
        if ref is None:
            continue
        config_map = manifests.named("ConfigMap", ref.get("name"))
        if config_map is None:
            problems.append("envFrom names ConfigMap %s, which the manifests lack" % ref.get("name"))
            continue
        variables.update(config_map.get("data", {}) or {})
    for entry in container.get("env", []) or []:
        if "value" in entry:
            variables[entry["name"]] = str(entry["value"])
        elif "fieldRef" in entry.get("valueFrom", {}):
            variables[entry["name"]] = "<fieldRef:%s>" % entry["valueFrom"]["fieldRef"]["fieldPath"]
    return variables, problems


def expand(text, variables):
    """Kubernetes $(VAR) expansion; returns (text, undefined names)."""
    undefined = []

    def replace(match):
        name = match.group(1)
        if name in variables:
            return variables[name]
        undefined.append(name)
        return match.group(0)

    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, text), undefined


def server_flags(container, manifests, where, errors):
    """(subcommand, {flag: value}) of a gander container, $(VAR)s expanded."""
    args = [str(a) for a in (container.get("args") or [])]
    if not args:
        errors.append("%s: no args (expected a gander subcommand and its flags)" % where)
        return None, {}
    variables, problems = container_env(container, manifests)
    errors.extend("%s: %s" % (where, p) for p in problems)
    flags = {}
    for arg in args[1:]:
        value, undefined = expand(arg, variables)
        for name in undefined:
            errors.append("%s: argument %s uses $(%s), which no env or ConfigMap defines"
                          % (where, arg, name))
        match = re.fullmatch(r"--([a-z0-9-]+)=(.*)", value)
        if not match:
            errors.append("%s: argument %r is not of the form --flag=value" % (where, arg))
            continue
        flags[match.group(1)] = match.group(2)
    return args[0], flags


def flag(flags, subcommand, name):
    return flags.get(name, DEFAULTS.get(subcommand, {}).get(name))


def named_port(container, name):
    for port in container.get("ports", []) or []:
        if port.get("name") == name:
            return port.get("containerPort")
    return None


def check_resources(manifests, errors):
    for workload in manifests.workloads():
        for container in pod_spec(workload).get("containers", []) or []:
            where = "%s/%s container %s" % (workload["kind"], workload["metadata"]["name"],
                                             container.get("name"))
            resources = container.get("resources") or {}
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in (resources.get(section) or {}):
                        errors.append("%s: resources.%s.%s is not set" % (where, section, resource))
            for resource, request in (resources.get("requests") or {}).items():
                limit = (resources.get("limits") or {}).get(resource)
                if limit is not None and quantity(limit) < quantity(request):
                    errors.append("%s: %s limit %s below its request %s"
                                  % (where, resource, limit, request))


def check_security(manifests, errors):
    for workload in manifests.workloads():
        spec = pod_spec(workload)
        pod_security = spec.get("securityContext") or {}
        mounts_of = {}
        for container in spec.get("containers", []) or []:
            where = "%s/%s container %s" % (workload["kind"], workload["metadata"]["name"],
                                             container.get("name"))
            security = container.get("securityContext") or {}
            non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
            user = security.get("runAsUser", pod_security.get("runAsUser"))
            if non_root is not True:
                errors.append("%s: runAsNonRoot is not true" % where)
            if user is not None and int(user) == 0:
                errors.append("%s: runAsUser is 0 (root)" % where)
            if security.get("allowPrivilegeEscalation") is not False:
                errors.append("%s: allowPrivilegeEscalation is not false" % where)
            if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                errors.append("%s: capabilities do not drop ALL" % where)
            if security.get("privileged"):
                errors.append("%s: privileged" % where)
            if security.get("readOnlyRootFilesystem") is not True:
                errors.append("%s: readOnlyRootFilesystem is not true" % where)
            else:
                mounts_of[container.get("name")] = [m.get("mountPath") for m in
                                                    container.get("volumeMounts", []) or []]
                if "/tmp" not in mounts_of[container.get("name")]:
                    errors.append("%s: read-only root filesystem without a volume at /tmp" % where)


def check_images(manifests, errors):
    for workload in manifests.workloads():
        for container in pod_spec(workload).get("containers", []) or []:
            image = container.get("image", "")
            where = "%s/%s container %s" % (workload["kind"], workload["metadata"]["name"],
                                             container.get("name"))
            name = image.split("@", 1)[0]
            tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else None
            if "@sha256:" not in image and not tag:
                errors.append("%s: image %r has no tag or digest" % (where, image))
            if tag == "latest":
                errors.append("%s: image %r uses the tag latest" % (where, image))


def check_grpc_server(manifests, component, known_flags, errors):
    """Store and worker: probes, ports and flags agree."""
    workload = manifests.workload(component)
    if workload is None:
        errors.append("no workload with %s=%s" % (COMPONENT, component))
        return None, {}, None
    spec = pod_spec(workload)
    containers = spec.get("containers", []) or []
    if len(containers) != 1:
        errors.append("%s: expected one container, found %d" % (component, len(containers)))
        return None, {}, workload
    container = containers[0]
    where = "%s/%s" % (workload["kind"], workload["metadata"]["name"])
    subcommand, flags = server_flags(container, manifests, where, errors)
    if subcommand != SUBCOMMANDS[component]:
        errors.append("%s: runs `gander %s`, expected `gander %s`"
                      % (where, subcommand, SUBCOMMANDS[component]))
        return container, flags, workload
    if known_flags is not None:
        for name in flags:
            if name not in known_flags.get(subcommand, set()):
                errors.append("%s: --%s is not a flag of `gander %s`" % (where, name, subcommand))

    grpc_port = port_of(flag(flags, subcommand, "listen"))
    metrics_port = port_of(flag(flags, subcommand, "metrics-listen"))
    if named_port(container, "grpc") != grpc_port:
        errors.append("%s: container port grpc is %s but --listen serves port %s"
                      % (where, named_port(container, "grpc"), grpc_port))
    if metrics_port is not None and named_port(container, "metrics") != metrics_port:
        errors.append("%s: container port metrics is %s but --metrics-listen serves port %s"
                      % (where, named_port(container, "metrics"), metrics_port))
    for probe_name in ("readinessProbe", "livenessProbe"):
        probe = container.get(probe_name)
        if not probe:
            errors.append("%s: no %s" % (where, probe_name))
            continue
        grpc = probe.get("grpc")
        if not grpc:
            errors.append("%s: %s is not a native gRPC probe (grpc: port:)" % (where, probe_name))
        elif grpc.get("port") != grpc_port:
            errors.append("%s: %s probes port %s, the health service is on --listen port %s"
                          % (where, probe_name, grpc.get("port"), grpc_port))
        elif grpc.get("service"):
            errors.append("%s: %s asks for service %r; the servers report health for the "
                          "whole server (service \"\")" % (where, probe_name, grpc["service"]))
    startup = container.get("startupProbe")
    if startup and (startup.get("grpc") or {}).get("port") != grpc_port:
        errors.append("%s: startupProbe is not a gRPC probe on port %s" % (where, grpc_port))

    grace = parse_duration(flag(flags, subcommand, "shutdown-grace"))
    pod_grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace is None:
        errors.append("%s: cannot read --shutdown-grace=%s" % (where, flags.get("shutdown-grace")))
    elif pod_grace <= grace:
        errors.append("%s: terminationGracePeriodSeconds %s is not above --shutdown-grace (%s s): "
                      "the kubelet would SIGKILL the drain" % (where, pod_grace, grace))

    # The Service in front of it.
    services = [s for s in manifests.of_kind("Service")
                if labels_match(s["spec"].get("selector"), pod_labels(workload))]
    if not services:
        errors.append("%s: no Service selects its pods" % where)
    for service in services:
        for port in service["spec"].get("ports", []) or []:
            target = port.get("targetPort", port.get("port"))
            resolved = named_port(container, target) if isinstance(target, str) else target
            if port.get("name") == "grpc" and resolved != grpc_port:
                errors.append("Service/%s: port grpc targets %s, not the --listen port %s"
                              % (service["metadata"]["name"], target, grpc_port))
    return container, flags, workload


def headless_service(manifests, workload):
    for service in manifests.of_kind("Service"):
        if (service["spec"].get("clusterIP") == "None" and
                labels_match(service["spec"].get("selector"), pod_labels(workload))):
            return service
    return None


def check_store(manifests, known_flags, errors):
    container, flags, store = check_grpc_server(manifests, "store", known_flags, errors)
    if store is None or container is None:
        return None, None
    if store["kind"] != "StatefulSet":
        errors.append("the store runs as a %s, expected a StatefulSet" % store["kind"])
        return None, None
    claims = {c["metadata"]["name"] for c in store["spec"].get("volumeClaimTemplates", []) or []}
    if not claims:
        errors.append("StatefulSet/%s: no volumeClaimTemplates (PersistentVolumeClaim)"
                      % store["metadata"]["name"])
    data_dir = flags.get("data-dir", "./gander-store")
    mounted = [m for m in container.get("volumeMounts", []) or []
               if data_dir == m.get("mountPath") or data_dir.startswith(m.get("mountPath") + "/")]
    if not mounted or mounted[0].get("name") not in claims:
        errors.append("StatefulSet/%s: --data-dir=%s is not on a volume from its claim template"
                      % (store["metadata"]["name"], data_dir))
    service = headless_service(manifests, store)
    if service is None:
        errors.append("StatefulSet/%s: no headless Service (clusterIP: None) selects it"
                      % store["metadata"]["name"])
    elif store["spec"].get("serviceName") != service["metadata"]["name"]:
        errors.append("StatefulSet/%s: serviceName %s is not its headless Service %s"
                      % (store["metadata"]["name"], store["spec"].get("serviceName"),
                         service["metadata"]["name"]))
    return store, port_of(flag(flags, "store-server", "listen"))


def check_worker(manifests, overlay, known_flags, store, store_port, errors):
    container, flags, worker = check_grpc_server(manifests, "worker", known_flags, errors)
    if worker is None or container is None:
        return None, None
    where = "%s/%s" % (worker["kind"], worker["metadata"]["name"])
    if worker["kind"] != "Deployment":
        errors.append("the workers run as a %s, expected a Deployment" % worker["kind"])

    # The shared store: its pod's stable name and port.
    if store is not None:
        expected = "%s-0.%s" % (store["metadata"]["name"], store["spec"].get("serviceName"))
        target = flags.get("store", "")
        host = target.rsplit(":", 1)[0]
        if host.split(".svc")[0] not in (expected, expected + "." + store["metadata"].get(
                "namespace", "")):
            errors.append("%s: --store=%s, expected the store pod %s" % (where, target, expected))
        if port_of(target) != store_port:
            errors.append("%s: --store=%s, but the store listens on port %s"
                          % (where, target, store_port))
    worker_id = flags.get("worker-id", "")
    if worker_id != "<fieldRef:metadata.name>":
        errors.append("%s: --worker-id must be the pod name (env from fieldRef metadata.name), "
                      "got %r" % (where, worker_id))
    lease = parse_duration(flag(flags, "serve", "lease-ttl"))
    if lease is None or not 1 <= lease <= 86400:
        errors.append("%s: --lease-ttl=%s outside [1s, 24h]" % (where, flags.get("lease-ttl")))

    # Authentication: the token file comes from a Secret.
    tokens = flags.get("auth-tokens")
    if not tokens:
        errors.append("%s: no --auth-tokens (every caller would be trusted)" % where)
    else:
        volumes = {v["name"]: v for v in pod_spec(worker).get("volumes", []) or []}
        mount = next((m for m in container.get("volumeMounts", []) or []
                      if tokens.startswith(m.get("mountPath", "") + "/")), None)
        if mount is None or "secret" not in volumes.get(mount.get("name"), {}):
            errors.append("%s: --auth-tokens=%s is not on a Secret volume" % (where, tokens))

    # Engine threads within the CPU limit.
    threads = flag(flags, "serve", "threads")
    cpu_limit = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
    if threads is not None and threads.isdigit() and cpu_limit is not None:
        if int(threads) == 0:
            errors.append("%s: --threads=0 uses every core of the node, not the CPU limit %s"
                          % (where, cpu_limit))
        elif int(threads) > quantity(cpu_limit):
            errors.append("%s: --threads=%s exceeds the CPU limit %s" % (where, threads, cpu_limit))

    # Rollouts never drop below the wanted number of workers.
    rolling = (worker.get("spec", {}).get("strategy") or {}).get("rollingUpdate") or {}
    if str(rolling.get("maxUnavailable", "25%")) not in ("0", "0%"):
        errors.append("%s: rollingUpdate.maxUnavailable is not 0" % where)

    # The overlay's accelerator.
    resources = container.get("resources") or {}
    gpus = (resources.get("limits") or {}).get("nvidia.com/gpu")
    image = container.get("image", "")
    backend = flag(flags, "serve", "backend") or "cpu"
    if overlay == "gpu":
        if gpus is None or quantity(gpus) < 1:
            errors.append("%s: the gpu overlay's worker does not request nvidia.com/gpu" % where)
        if backend != "cuda":
            errors.append("%s: the gpu overlay's worker runs --backend=%s, not cuda"
                          % (where, backend))
        if "cuda" not in image:
            errors.append("%s: the gpu overlay's worker image %s is not the CUDA image"
                          % (where, image))
    elif overlay == "cpu":
        if gpus is not None:
            errors.append("%s: the cpu overlay's worker requests nvidia.com/gpu" % where)
        if backend != "cpu":
            errors.append("%s: the cpu overlay's worker runs --backend=%s" % (where, backend))
        if "cuda" in image:
            errors.append("%s: the cpu overlay's worker runs the CUDA image %s" % (where, image))
    return worker, port_of(flag(flags, "serve", "listen"))


def nginx_directives(config):
    """(directive, arguments) pairs of an nginx configuration, in order."""
    text = "\n".join(line.split("#", 1)[0] for line in config.splitlines())
    return [(m.group(1), m.group(2).split()) for m in
            re.finditer(r"([a-z_0-9]+)\s*([^;{}]*)[;{]", text)]


def check_router(manifests, worker, worker_port, errors):
    router = manifests.workload("router")
    if router is None:
        errors.append("no workload with %s=router" % COMPONENT)
        return None
    where = "%s/%s" % (router["kind"], router["metadata"]["name"])
    containers = pod_spec(router).get("containers", []) or []
    if len(containers) != 1:
        errors.append("%s: expected one container" % where)
        return router
    container = containers[0]
    variables, problems = container_env(container, manifests)
    errors.extend("%s: %s" % (where, p) for p in problems)

    # Its configuration: the template from the mounted ConfigMap.
    volumes = {v["name"]: v for v in pod_spec(router).get("volumes", []) or []}
    template_path = variables.get("GANDER_ROUTER_TEMPLATE", "/etc/gander/router/nginx.conf.template")
    config = None
    for mount in container.get("volumeMounts", []) or []:
        prefix = mount.get("mountPath", "") + "/"
        volume = volumes.get(mount.get("name"), {})
        if template_path.startswith(prefix) and "configMap" in volume:
            config_map = manifests.named("ConfigMap", volume["configMap"].get("name"))
            if config_map is not None:
                config = (config_map.get("data") or {}).get(template_path[len(prefix):])
    if config is None:
        errors.append("%s: no ConfigMap provides %s" % (where, template_path))
        return router

    directives = nginx_directives(config)
    maps = {args[1]: args[0] for name, args in directives if name == "map" and len(args) == 2}
    hashes = [args for name, args in directives if name == "hash"]
    if not hashes:
        errors.append("%s: the router's upstream has no `hash` directive" % where)
    for args in hashes:
        key = args[0] if args else ""
        source = maps.get(key, key)
        if source != STREAM_HEADER_VARIABLE:
            errors.append("%s: the router hashes on %s, not on the x-gander-stream-id header (%s)"
                          % (where, key, STREAM_HEADER_VARIABLE))
        if "consistent" not in args[1:]:
            errors.append("%s: the router's hash is not `consistent`" % where)
    upstreams = [args[0] for name, args in directives if name == "upstream" and args]
    passes = [args[0] for name, args in directives if name == "grpc_pass" and args]
    if not passes or any(p.replace("grpcs://", "").replace("grpc://", "") not in upstreams
                         for p in passes):
        errors.append("%s: grpc_pass does not proxy to the hashed upstream (%s)"
                      % (where, ", ".join(upstreams)))
    next_upstream = [set(args) for name, args in directives if name == "grpc_next_upstream"]
    if not next_upstream or not {"error", "timeout"} <= next_upstream[0]:
        errors.append("%s: grpc_next_upstream does not retry on `error timeout`" % where)
    if "@@WORKER@@" not in config:
        errors.append("%s: the template has no @@WORKER@@ line for the workers" % where)

    # Its environment points at the workers and at its own ports.
    if worker is not None:
        service = headless_service(manifests, worker)
        host = variables.get("GANDER_WORKERS_HOST", "gander-worker")
        if service is None:
            errors.append("%s: no headless Service lists the workers" % where)
        elif host.split(".")[0] != service["metadata"]["name"]:
            errors.append("%s: GANDER_WORKERS_HOST=%s is not the workers' headless Service %s"
                          % (where, host, service["metadata"]["name"]))
        if str(worker_port) != variables.get("GANDER_WORKER_PORT", "50051"):
            errors.append("%s: GANDER_WORKER_PORT=%s but the workers listen on %s"
                          % (where, variables.get("GANDER_WORKER_PORT", "50051"), worker_port))
    listen = port_of(variables.get("GANDER_ROUTER_LISTEN", "0.0.0.0:50051"))
    health = port_of(variables.get("GANDER_ROUTER_HEALTH_LISTEN", "0.0.0.0:8081"))
    if named_port(container, "grpc") != listen:
        errors.append("%s: container port grpc is %s but GANDER_ROUTER_LISTEN serves %s"
                      % (where, named_port(container, "grpc"), listen))
    for probe_name in ("readinessProbe", "livenessProbe"):
        probe = (container.get(probe_name) or {}).get("httpGet") or {}
        if probe.get("port") != health or probe.get("path") != "/healthz":
            errors.append("%s: %s is not GET /healthz on GANDER_ROUTER_HEALTH_LISTEN port %s"
                          % (where, probe_name, health))
    if variables.get("GANDER_ROUTER_TLS", "on") == "on":
        tls_dir = variables.get("GANDER_ROUTER_TLS_DIR", "/etc/gander/router-tls")
        mount = next((m for m in container.get("volumeMounts", []) or []
                      if m.get("mountPath") == tls_dir), None)
        if mount is None or "secret" not in volumes.get(mount.get("name"), {}):
            errors.append("%s: TLS is on but %s is not a mounted Secret" % (where, tls_dir))
    return router


def check_policies(manifests, workloads, errors):
    store, worker, router = workloads
    for component, workload in (("worker", worker), ("store", store), ("router", router)):
        if workload is None:
            continue
        budgets = [p for p in manifests.of_kind("PodDisruptionBudget")
                   if labels_match((p["spec"].get("selector") or {}).get("matchLabels"),
                                   pod_labels(workload))]
        if not budgets:
            errors.append("no PodDisruptionBudget selects the %s pods" % component)
        for budget in budgets:
            if "minAvailable" not in budget["spec"] and "maxUnavailable" not in budget["spec"]:
                errors.append("PodDisruptionBudget/%s sets neither minAvailable nor maxUnavailable"
                              % budget["metadata"]["name"])

    if worker is not None:
        scalers = [h for h in manifests.of_kind("HorizontalPodAutoscaler")
                   if (h["spec"].get("scaleTargetRef") or {}).get("kind") == worker["kind"] and
                   h["spec"]["scaleTargetRef"].get("name") == worker["metadata"]["name"]]
        if not scalers:
            errors.append("no HorizontalPodAutoscaler scales %s/%s"
                          % (worker["kind"], worker["metadata"]["name"]))
        for scaler in scalers:
            low, high = scaler["spec"].get("minReplicas", 1), scaler["spec"].get("maxReplicas", 0)
            if low < 2:
                errors.append("HorizontalPodAutoscaler/%s: minReplicas %s leaves no worker to "
                              "take over a failed one's streams" % (scaler["metadata"]["name"], low))
            if high < low:
                errors.append("HorizontalPodAutoscaler/%s: maxReplicas below minReplicas"
                              % scaler["metadata"]["name"])
            if not scaler["spec"].get("metrics"):
                errors.append("HorizontalPodAutoscaler/%s has no metrics"
                              % scaler["metadata"]["name"])

    if store is None:
        return
    store_container = (pod_spec(store).get("containers") or [{}])[0]
    store_grpc = named_port(store_container, "grpc")
    allowed = [pod_labels(w) for w in (worker, router) if w is not None]
    policies = [p for p in manifests.of_kind("NetworkPolicy")
                if labels_match((p["spec"].get("podSelector") or {}).get("matchLabels"),
                                pod_labels(store))]
    if not policies:
        errors.append("no NetworkPolicy selects the store pods")
        return
    for policy in policies:
        name = "NetworkPolicy/%s" % policy["metadata"]["name"]
        if "Ingress" not in (policy["spec"].get("policyTypes") or []):
            errors.append("%s does not restrict Ingress" % name)
        for rule in policy["spec"].get("ingress", []) or []:
            ports = [p.get("port") for p in rule.get("ports", []) or []]
            if ports and store_grpc not in ports and "grpc" not in ports:
                continue  # a rule for other ports (metrics)
            sources = rule.get("from")
            if not sources:
                errors.append("%s lets anyone reach the store's gRPC port" % name)
                continue
            for source in sources:
                selector = (source.get("podSelector") or {}).get("matchLabels")
                if (set(source) != {"podSelector"} or
                        not any(labels_match(selector, labels) for labels in allowed)):
                    errors.append("%s lets %s reach the store's gRPC port (only the router and "
                                  "the workers may)" % (name, source))
        if not policy["spec"].get("ingress"):
            errors.append("%s admits nothing: the workers cannot reach the store" % name)


def check(documents, overlay, known_flags=None):
    """Every violated invariant of the rendered manifests, as messages."""
    manifests = Manifests(documents)
    errors = []
    check_resources(manifests, errors)
    check_security(manifests, errors)
    check_images(manifests, errors)
    store, store_port = check_store(manifests, known_flags, errors)
    worker, worker_port = check_worker(manifests, overlay, known_flags, store, store_port, errors)
    router = check_router(manifests, worker, worker_port, errors)
    check_policies(manifests, (store, worker, router), errors)
    return errors


def known_flags_of(gander):
    """{subcommand: {flag names}} from `gander SUBCOMMAND --help`."""
    known = {}
    for subcommand in SUBCOMMANDS.values():
        result = subprocess.run([gander, subcommand, "--help"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, check=False)
        names = set(re.findall(r"^\s+--([a-z0-9-]+)=", result.stdout, re.MULTILINE))
        if not names:
            raise RuntimeError("`%s %s --help` listed no flags:\n%s"
                               % (gander, subcommand, result.stdout))
        known[subcommand] = names
    return known


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overlay", choices=["cpu", "gpu", "base"], required=True)
    parser.add_argument("--gander", help="the gander binary, to check flag names")
    parser.add_argument("manifests", help="rendered manifests (YAML), - for stdin")
    args = parser.parse_args(argv)
    try:
        if args.manifests == "-":
            documents = list(yaml.safe_load_all(sys.stdin))
        else:
            with open(args.manifests, encoding="utf-8") as stream:
                documents = list(yaml.safe_load_all(stream))
        known = known_flags_of(args.gander) if args.gander else None
    except (OSError, yaml.YAMLError, RuntimeError) as error:
        print("check_manifests: %s" % error, file=sys.stderr)
        return 2
    errors = check(documents, args.overlay, known)
    for error in errors:
        print("FAIL: %s" % error)
    if errors:
        return 1
    print("ok: %s overlay, %d documents, every invariant holds" % (args.overlay, len(documents)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
