#!/usr/bin/env bash
# Proves the cluster of .ci/k8s.sh from its node:
#   bash .ci/k8s.sh run -- bash .ci/k8s-smoke.sh
# A container's hostPort on 127.0.0.1, a NodePort Service on 127.0.0.1 and
# on the node's address, and a pod reading its own Pod from the API with
# its service account's token (a Role: get pods, list services; secrets
# stay forbidden). Each check prints one line; any failure exits non-zero.
set -euo pipefail
: "${KUBECONFIG:?run it through: bash .ci/k8s.sh run -- bash .ci/k8s-smoke.sh}"
: "${PORTENV_E2E_K8S_NODE_IP:?run it through: bash .ci/k8s.sh run -- bash .ci/k8s-smoke.sh}"
node_ip=$PORTENV_E2E_K8S_NODE_IP
image=${PORTENV_E2E_K8S_IMAGE:-portenv-ci/busybox:1}
n=smoke
host_port=18080

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2fs", b - a }'; }
die() {
  echo "smoke: FAILED: $*" >&2
  exit 1
}
t_all=$(now)

# answer HOST PORT: the first line a TCP server sends.
answer() {
  local line=
  exec 3<>"/dev/tcp/$1/$2" || return 1
  IFS= read -r -t 2 line <&3 || true
  exec 3<&-
  echo "$line"
}

# probe HOST PORT WANT: retries for 10s (kube-proxy syncs after the pod is Ready).
probe() {
  local t0 got i
  t0=$(now)
  for i in $(seq 100); do
    got=$(answer "$1" "$2" 2>/dev/null) || got=
    if [ "$got" = "$3" ]; then
      echo "smoke: $1:$2 answers \"$got\" ($(since "$t0"), try $i)"
      return 0
    fi
    sleep 0.1
  done
  die "$1:$2 answered \"$got\", not \"$3\", for 10s"
}

t0=$(now)
kubectl create namespace "$n" >/dev/null
kubectl -n "$n" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: hostport}
spec:
  containers:
  - name: server
    image: $image
    imagePullPolicy: Never
    command: [nc, -ll, -p, "8080", -e, echo, hi from hostport]
    ports: [{containerPort: 8080, hostPort: $host_port, hostIP: 127.0.0.1}]
---
apiVersion: v1
kind: Pod
metadata: {name: nodeport, labels: {app: smoke-np}}
spec:
  containers:
  - name: server
    image: $image
    imagePullPolicy: Never
    command: [nc, -ll, -p, "8080", -e, echo, hi from nodeport]
    ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: smoke-np}
spec:
  type: NodePort
  selector: {app: smoke-np}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get]}
- {apiGroups: [""], resources: [services], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: reader}]
---
apiVersion: v1
kind: Pod
metadata: {name: self}
spec:
  serviceAccountName: reader
  restartPolicy: Never
  containers:
  - name: client
    image: $image
    imagePullPolicy: Never
    command: [sh, -c, 'podself && podself namespaces/NS/services && ! podself namespaces/NS/secrets']
EOF
echo "smoke: namespace $n: 3 pods, a NodePort Service, a Role ($(since "$t0"))"

t0=$(now)
kubectl -n "$n" wait --for=condition=Ready pod/hostport pod/nodeport --timeout=60s >/dev/null ||
  { kubectl -n "$n" describe pods >&2; die "pods hostport and nodeport not Ready within 60s"; }
echo "smoke: pods hostport and nodeport Ready ($(since "$t0"))"

probe 127.0.0.1 "$host_port" "hi from hostport"
node_port=$(kubectl -n "$n" get service smoke-np -o 'jsonpath={.spec.ports[0].nodePort}')
[ -n "$node_port" ] || die "Service smoke-np has no nodePort"
probe 127.0.0.1 "$node_port" "hi from nodeport"
probe "$node_ip" "$node_port" "hi from nodeport"

t0=$(now)
kubectl -n "$n" wait --for=jsonpath='{.status.phase}'=Succeeded pod/self --timeout=60s >/dev/null ||
  { kubectl -n "$n" logs self >&2 || true; kubectl -n "$n" describe pod self >&2; die "pod self did not succeed within 60s"; }
uid=$(kubectl -n "$n" get pod self -o 'jsonpath={.metadata.uid}')
out=$(kubectl -n "$n" logs self)
grep -q "\"uid\":\"$uid\"" <<<"$out" || die "pod self did not print its own Pod (uid $uid): $out"
grep -q '"name":"smoke-np"' <<<"$out" || die "pod self did not list the Service smoke-np: $out"
grep -q '403 Forbidden' <<<"$out" || die "pod self could read secrets, which its Role does not grant: $out"
echo "smoke: pod self read its own Pod (uid $uid) and listed the Services with its token, secrets forbidden ($(since "$t0"))"

kubectl delete namespace "$n" --wait=false >/dev/null
echo "smoke: passed in $(since "$t_all")"
