#!/usr/bin/env bash
# A real one-node Kubernetes for the end-to-end tests: kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet and kube-proxy built
# from k8s.io/kubernetes with Go, etcd, kubectl, containerd, runc and the
# CNI plugins from Debian's packages, all in a network namespace of its own
# (the host's iptables, routes and sysctls of the network stack are not
# touched; the host's Docker goes on publishing on 127.0.0.1 beside it).
#
#   bash .ci/k8s.sh build               build and fetch everything (cached)
#   bash .ci/k8s.sh up                  start the cluster, wait until usable
#   bash .ci/k8s.sh down                stop it, remove every trace
#   bash .ci/k8s.sh run -- CMD...       build, up, CMD in the namespace, down
#                                       (unless it was up before); exit with
#                                       CMD's status
#   bash .ci/k8s.sh image NAME DIR|TAR [CMD...]
#                                       load an image into the cluster: a
#                                       docker-archive tar, or one made of
#                                       the root directory DIR (one layer,
#                                       CMD its command)
#   bash .ci/k8s.sh stop-apiserver      kill kube-apiserver alone (the rest
#                                       of the cluster stays up and retries)
#   bash .ci/k8s.sh start-apiserver     start it again, wait until ready
#   bash .ci/k8s.sh env                 print what run sets, as shell
#
# The cluster: one node named "node" at 10.213.0.1 (on the pod bridge,
# whose range is 10.213.0.0/24), Services in 10.214.0.0/24 (the API at
# 10.214.0.1:443 for pods), NodePorts on 127.0.0.1 and 10.213.0.1 only,
# hostPorts through CNI portmap. No registry: images are loaded with
# `image` and used with imagePullPolicy: Never. Two are always there:
# portenv-ci/pause:1 (the sandbox) and portenv-ci/busybox:1 (busybox-static
# at /bin, and /bin/podself, which prints its own Pod as the API serves it,
# read with its service account's token).
#
# run puts CMD in the namespace (which reaches only itself: fetch Go
# modules before) with
#   KUBECONFIG               an admin kubeconfig (https://10.213.0.1:6443)
#   PATH                     prefixed by the directory of kubectl
#   PORTENV_E2E_K8S_NODE_IP  10.213.0.1
#   PORTENV_E2E_K8S_IMAGE    portenv-ci/busybox:1
#   PORTENV_E2E_K8S_POD_CIDR 10.213.0.0/24, the pods' addresses (and the node's)
#   PORTENV_E2E_K8S          the path of this script (for `image`)
#   PORTENV_E2E_K8S_AUDIT_LOG  kube-apiserver's audit log: every request of
#                            a pod's service account (JSON lines, level
#                            Metadata; kube-system's are left out)
#
# Each step prints one line with its time; a failure prints one line
# starting "k8s: FAILED" (with the end of the step's log above it).
#
# Environment:
#   PORTENV_K8S_CACHE  binaries, packages, images (default /var/cache/portenv-ci/k8s)
#   DEBIAN_MIRROR      Debian archive (default: the machine's apt source of Debian main)
#   GO                 go command (default: go on PATH, else /usr/local/go/bin/go)
set -eEuo pipefail
trap 'rc=$?; echo "k8s: FAILED: \`$BASH_COMMAND\` exited $rc (line $LINENO)" >&2; exit $rc' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${PORTENV_K8S_CACHE:-/var/cache/portenv-ci/k8s}
state=/run/portenv-ci/k8s
ns=pe-k8s

k8s_version=v1.37.2
# Debian packages: name, suite, the upstream version it must be.
debs=(
  "etcd-server sid 3.5.30"
  "kubectl sid 1.36."
  "containerd sid 2.1.9"
  "containernetworking-plugins sid 1.9.1"
  "runc bookworm 1.1.5"
  "busybox-static bookworm 1.35.0"
)

node_ip=10.213.0.1
pod_cidr=10.213.0.0/24
svc_cidr=10.214.0.0/24
api_svc_ip=10.214.0.1
bridge=pek8s0
pause_image=portenv-ci/pause:1
test_image=portenv-ci/busybox:1

log() { echo "k8s: $*"; }
die() {
  echo "k8s: FAILED: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# step WHAT CMD...: runs CMD with its output in a log; one line with the
# time, or the end of the log and a FAILED line.
step() {
  local what=$1 t0 steplog rc
  shift
  t0=$(now)
  steplog=$(mktemp "${TMPDIR:-/tmp}/k8s-step.XXXXXX")
  rc=0
  # In the background, so that set -e holds inside CMD (a function called
  # where its status is tested runs without it).
  "$@" >"$steplog" 2>&1 &
  wait $! || rc=$?
  if [ $rc = 0 ]; then
    log "$what ($(since "$t0"))"
    rm -f "$steplog"
  else
    tail -n 25 "$steplog" | sed 's/^/  | /' >&2
    rm -f "$steplog"
    die "$what (exit $rc after $(since "$t0"))"
  fi
}

usage() {
  sed -n '2,/^set -eEuo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# shellcheck source=.ci/debian-mirror.sh
. "$here/debian-mirror.sh"
# shellcheck source=.ci/k8s-build.sh
. "$here/k8s-build.sh"
# shellcheck source=.ci/k8s-cluster.sh
. "$here/k8s-cluster.sh"

env_of() {
  echo "KUBECONFIG=$state/pki/admin.kubeconfig"
  echo "PATH=$cache/root/usr/bin:$PATH"
  echo "PORTENV_E2E_K8S_NODE_IP=$node_ip"
  echo "PORTENV_E2E_K8S_IMAGE=$test_image"
  echo "PORTENV_E2E_K8S_POD_CIDR=$pod_cidr"
  echo "PORTENV_E2E_K8S=$here/k8s.sh"
  echo "PORTENV_E2E_K8S_AUDIT_LOG=$audit_log"
}

run() {
  [ "${1:-}" = -- ] && shift
  [ $# -gt 0 ] || usage
  local vars=() rc=0 t0 was_up=0
  build
  [ -d "$state" ] && alive kube-apiserver && was_up=1
  # A signal ends the script through exit, so that down runs.
  [ $was_up = 1 ] || trap 'down' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  up
  mapfile -t vars < <(env_of)
  t0=$(now)
  log "run: $*"
  # In the background, so that a signal to this script is handled at once
  # (down then ends CMD with the rest of the namespace), with this
  # script's stdin all the same.
  exec {stdin}<&0
  nsenter --net="/run/netns/$ns" -- env "${vars[@]}" "$@" <&"$stdin" 9>&- &
  wait $! || rc=$?
  log "run: exit $rc after $(since "$t0")"
  if [ $was_up = 1 ]; then
    log "left up, as it was before"
  else
    trap - EXIT
    down
  fi
  return $rc
}

# with_lock CMD...: one cluster at a time.
with_lock() {
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  "$@"
}

[ $# -ge 1 ] || usage
[ "$(id -u)" = 0 ] || die "needs root (namespaces, mounts, iptables); run as root"
cmd=$1
shift
case $cmd in
build) with_lock build ;;
up) with_lock up ;;
down) with_lock down ;;
run) with_lock run "$@" || exit $? ;;
image)
  [ $# -ge 2 ] || usage
  load_image "$@"
  ;;
# Not under the lock: run holds it while its command calls these.
stop-apiserver) apiserver_stop ;;
start-apiserver) apiserver_start ;;
env) env_of | sed 's/^\([^=]*\)=\(.*\)$/export \1='"'"'\2'"'"'/' ;;
*) usage ;;
esac
