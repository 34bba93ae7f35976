#!/usr/bin/env python3
"""Tests on rendered manifests (`helm template` output) that kubeconform
cannot make. Run by helm/check; usage:

    check_rendered.py [--default] [--no-labels] FILE

Always: the documents parse, no two resources share a kind and name, every
resource (and every pod template) carries the standard app.kubernetes.io/*
labels (unless --no-labels, for hand-written manifests), every Vigil
container is hardened and probed, and listens on 0.0.0.0.
--default adds what the default values must render: for each of enricher,
writer, notifier and api a Deployment, HorizontalPodAutoscaler (not the
notifier: fixed replicas), PodDisruptionBudget and Service, wired to each
other; the notifier's signing key mounted read-only from a Secret and its
instance name from the pod's; and the setup hook Job.
Prints one line per problem and exits 1 if there is any.
"""

import sys

import yaml

STANDARD_LABELS = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
]
SERVICES = ["enricher", "writer", "notifier", "api"]
# Services with a fixed replica count instead of a HorizontalPodAutoscaler.
FIXED_REPLICAS = {"notifier"}
WORKLOAD_KINDS = {"Deployment", "Job", "StatefulSet", "DaemonSet"}

problems = []


def fail(msg):
    problems.append(msg)


def name_of(doc):
    return f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"


def labels_of(meta):
    return (meta or {}).get("labels") or {}


def check_labels(doc):
    for where, meta in [("", doc.get("metadata"))] + (
        [(" pod template", doc["spec"]["template"].get("metadata"))]
        if doc.get("kind") in WORKLOAD_KINDS
        else []
    ):
        labels = labels_of(meta)
        missing = [label for label in STANDARD_LABELS if not labels.get(label)]
        if missing:
            fail(f"{name_of(doc)}{where}: missing labels {', '.join(missing)}")


def selector_matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def pod_spec(doc):
    return doc["spec"]["template"]["spec"]


def check_container(doc, spec, container):
    where = f"{name_of(doc)} container {container['name']}"
    sc = container.get("securityContext") or {}
    pod_sc = spec.get("securityContext") or {}
    if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
        fail(f"{where}: not runAsNonRoot")
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(f"{where}: root filesystem not read-only")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(f"{where}: allowPrivilegeEscalation not false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        fail(f"{where}: capabilities not dropped (ALL)")
    if not container.get("resources"):
        fail(f"{where}: no resources")
    env = {e.get("name", ""): e for e in container.get("env") or []}
    for name, var in env.items():
        if name.endswith("_LISTEN") and not str(var.get("value", "")).startswith("0.0.0.0:"):
            fail(f"{where}: {name}={var.get('value')} is not reachable from outside the pod")
    # A password passed as an env var is only read with *_PASSWORD_FILE=env:.
    for name in ("VIGIL_KAFKA_SASL_PASSWORD", "VIGIL_CQL_PASSWORD"):
        if name in env:
            if "secretKeyRef" not in (env[name].get("valueFrom") or {}):
                fail(f"{where}: {name} is not taken from a Secret")
            if (env.get(f"{name}_FILE") or {}).get("value") != "env:":
                fail(f"{where}: {name} is set but {name}_FILE is not env:, so it is never read")
    # Files the services read must be mounted from a volume of the pod.
    volumes = {v["name"] for v in spec.get("volumes") or []}
    mounts = container.get("volumeMounts") or []
    for name in (
        "VIGIL_KAFKA_CA_FILE",
        "VIGIL_API_TLS_CERT",
        "VIGIL_API_TLS_KEY",
        "VIGIL_API_PAGE_TOKEN_KEY_FILE",
        "VIGIL_NOTIFIER_SIGNING_KEY_FILE",
    ):
        path = (env.get(name) or {}).get("value")
        if path and not any(
            path.startswith(m["mountPath"].rstrip("/") + "/") and m["name"] in volumes for m in mounts
        ):
            fail(f"{where}: {name}={path} is not on a mounted volume")


def check_workload(doc):
    spec = pod_spec(doc)
    if spec.get("automountServiceAccountToken") is not False:
        fail(f"{name_of(doc)}: mounts a service account token")
    for container in (spec.get("initContainers") or []) + spec["containers"]:
        check_container(doc, spec, container)
    if doc["kind"] != "Deployment":
        return
    grace = None
    for container in spec["containers"]:
        for env in container.get("env") or []:
            if env["name"] == "VIGIL_SHUTDOWN_GRACE":
                grace = int(env["value"].rstrip("s"))
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in container:
                fail(f"{name_of(doc)}: {container['name']} has no {probe}")
    if grace is not None and spec.get("terminationGracePeriodSeconds", 30) <= grace:
        fail(f"{name_of(doc)}: terminationGracePeriodSeconds not above VIGIL_SHUTDOWN_GRACE ({grace}s)")


def check_default(docs):
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)

    def of(kind, component):
        return [
            d
            for d in by_kind.get(kind, [])
            if labels_of(d["metadata"]).get("app.kubernetes.io/component") == component
        ]

    for service in SERVICES:
        deployments = of("Deployment", service)
        if len(deployments) != 1:
            fail(f"{service}: {len(deployments)} Deployments, want 1")
            continue
        deployment = deployments[0]
        pod_labels = labels_of(deployment["spec"]["template"]["metadata"])
        if not selector_matches(deployment["spec"]["selector"]["matchLabels"], pod_labels):
            fail(f"{service}: Deployment selector does not match its pods")

        hpas = of("HorizontalPodAutoscaler", service)
        if service in FIXED_REPLICAS:
            if hpas:
                fail(f"{service}: {len(hpas)} HorizontalPodAutoscalers, want none")
            if not deployment["spec"].get("replicas"):
                fail(f"{service}: Deployment has no replicas")
        elif len(hpas) != 1:
            fail(f"{service}: {len(hpas)} HorizontalPodAutoscalers, want 1")
        elif hpas[0]["spec"]["scaleTargetRef"]["name"] != deployment["metadata"]["name"]:
            fail(f"{service}: HPA targets {hpas[0]['spec']['scaleTargetRef']['name']}")
        elif "replicas" in deployment["spec"]:
            fail(f"{service}: Deployment sets replicas although an HPA owns them")

        pdbs = of("PodDisruptionBudget", service)
        if len(pdbs) != 1:
            fail(f"{service}: {len(pdbs)} PodDisruptionBudgets, want 1")
        elif not selector_matches(pdbs[0]["spec"]["selector"]["matchLabels"], pod_labels):
            fail(f"{service}: PDB selector does not match the pods")

        services = of("Service", service)
        ports = {}
        for svc in services:
            if not selector_matches(svc["spec"]["selector"], pod_labels):
                fail(f"{name_of(svc)}: selector does not match the {service} pods")
            for port in svc["spec"]["ports"]:
                ports[port["name"]] = svc
        container_ports = {
            p["name"] for c in pod_spec(deployment)["containers"] for p in c.get("ports") or []
        }
        want = ["metrics"] + (["grpc"] if service == "api" else [])
        for port in want:
            if port not in ports:
                fail(f"{service}: no Service with a '{port}' port")
            if port not in container_ports:
                fail(f"{service}: container has no '{port}' port")
        if service == "api" and "grpc" in ports and "metrics" in ports and ports["grpc"] is ports["metrics"]:
            fail("api: gRPC and metrics share a Service (the API Service may be exposed)")

        container = pod_spec(deployment)["containers"][0]
        probe = container.get("readinessProbe") or {}
        if service == "api":
            if "grpc" not in probe or "grpc" not in (container.get("livenessProbe") or {}):
                fail("api: probes are not native gRPC probes")
            # Replicas must share the page-token key, or a next page fails
            # on another replica.
            env = {e["name"]: e for e in container.get("env") or []}
            if "VIGIL_API_PAGE_TOKEN_KEY_FILE" not in env:
                fail("api: no shared page-token key (VIGIL_API_PAGE_TOKEN_KEY_FILE)")
            key_secrets = [
                (v.get("secret") or {}).get("secretName")
                for v in pod_spec(deployment).get("volumes") or []
                if any(i.get("key") == "page-token.key" for i in (v.get("secret") or {}).get("items") or [])
            ]
            if len(key_secrets) != 1:
                fail("api: the page-token key is not mounted from one Secret")
            for secret in by_kind.get("Secret", []):
                if secret["metadata"]["name"] not in key_secrets:
                    continue
                if "page-token.key" not in (secret.get("data") or {}):
                    fail(f"{name_of(secret)}: no page-token.key")
                if (secret["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") != "keep":
                    fail(f"{name_of(secret)}: the page-token key is not kept across uninstalls")
        elif (probe.get("httpGet") or {}).get("path") != "/healthz":
            fail(f"{service}: readiness probe is not GET /healthz")
        if service == "notifier":
            check_notifier(deployment, container)
            if of("Secret", "notifier"):
                fail("notifier: the chart renders a Secret; the signing key must be the operator's")

    jobs = by_kind.get("Job", [])
    hooks = [
        j
        for j in jobs
        if (j["metadata"].get("annotations") or {}).get("helm.sh/hook") == "pre-install,pre-upgrade"
    ]
    if len(hooks) != 1:
        fail(f"{len(hooks)} pre-install,pre-upgrade hook Jobs, want 1 (vigilctl setup)")
    elif pod_spec(hooks[0])["containers"][0].get("command") != ["vigilctl", "setup"]:
        fail("the hook Job does not run `vigilctl setup`")


def check_notifier(deployment, container):
    """The webhook signing key: a file from a Secret the operator made (the
    chart makes none), mounted read-only; each pod's own instance name."""
    env = {e["name"]: e for e in container.get("env") or []}
    path = (env.get("VIGIL_NOTIFIER_SIGNING_KEY_FILE") or {}).get("value")
    if not path:
        fail("notifier: no VIGIL_NOTIFIER_SIGNING_KEY_FILE")
        return
    volumes = {v["name"]: v for v in pod_spec(deployment).get("volumes") or []}
    mount = next(
        (m for m in container.get("volumeMounts") or [] if path.startswith(m["mountPath"].rstrip("/") + "/")),
        None,
    )
    secret = (volumes.get((mount or {}).get("name")) or {}).get("secret")
    if not mount or not secret:
        fail(f"notifier: {path} is not mounted from a Secret")
    else:
        if mount.get("readOnly") is not True:
            fail("notifier: the signing key is not mounted read-only")
        items = {i["path"]: i["key"] for i in secret.get("items") or []}
        if path[len(mount["mountPath"].rstrip("/")) + 1 :] not in items:
            fail(f"notifier: {path} is not an item of Secret {secret.get('secretName')}")
    field = ((env.get("VIGIL_NOTIFIER_INSTANCE") or {}).get("valueFrom") or {}).get("fieldRef") or {}
    if field.get("fieldPath") != "metadata.name":
        fail("notifier: VIGIL_NOTIFIER_INSTANCE is not the pod's name")
    for name in ("VIGIL_KAFKA_BROKERS", "VIGIL_CQL_NODES"):
        if name not in env:
            fail(f"notifier: no {name}")


def check_egress(docs):
    """Egress policies must let each pod reach the Kafka and CQL ports it is
    configured with (VIGIL_KAFKA_BROKERS, VIGIL_CQL_NODES)."""
    workloads = [d for d in docs if d["kind"] in WORKLOAD_KINDS]
    for policy in (d for d in docs if d["kind"] == "NetworkPolicy"):
        spec = policy["spec"]
        if "Egress" not in (spec.get("policyTypes") or []):
            continue
        rules = spec.get("egress") or []
        if any(not rule.get("ports") for rule in rules):
            continue  # some rule allows every port
        allowed = {p.get("port") for rule in rules for p in rule["ports"]}
        selector = (spec.get("podSelector") or {}).get("matchLabels")
        for doc in workloads:
            labels = (doc["spec"]["template"].get("metadata") or {}).get("labels") or {}
            if not selector_matches(selector, labels):
                continue
            pod = pod_spec(doc)
            for container in (pod.get("initContainers") or []) + pod["containers"]:
                for var in container.get("env") or []:
                    if var.get("name") not in ("VIGIL_KAFKA_BROKERS", "VIGIL_CQL_NODES"):
                        continue
                    for address in str(var.get("value", "")).split(","):
                        port = int(address.rsplit(":", 1)[1])
                        if port not in allowed:
                            fail(f"{name_of(policy)}: blocks port {port} of {var['name']} "
                                 f"for {name_of(doc)} (allowed: {sorted(allowed)})")


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    flags = {a for a in argv if a.startswith("--")}
    if len(args) != 1 or flags - {"--default", "--no-labels"}:
        sys.exit(__doc__)
    with open(args[0]) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    if not docs:
        fail("no resources rendered")
    seen = set()
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
            fail(f"not a Kubernetes resource: {str(doc)[:80]}")
            continue
        key = (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"].get("name"))
        if key in seen:
            fail(f"{name_of(doc)}: rendered twice")
        seen.add(key)
        if "--no-labels" not in flags:
            check_labels(doc)
            if doc["kind"] in WORKLOAD_KINDS:
                check_workload(doc)
    check_egress(docs)
    if "--default" in flags:
        check_default(docs)
    for p in problems:
        print(p)
    kinds = sorted({d["kind"] for d in docs if isinstance(d, dict) and "kind" in d})
    print(f"{len(docs)} resources ({', '.join(kinds)}): {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
