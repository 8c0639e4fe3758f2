# Sourced by .ci/k8s.sh: up, down, image.
#
# Every process of the cluster runs in the network namespace $ns and in a
# mount namespace of its own, kept at $state/ns/mnt. In that mount
# namespace the paths the kubelet, containerd and the CNI plugins use
# whatever their flags (/var/lib/kubelet, /var/lib/cni, /var/log/containers,
# /run/containerd, whose s/ holds the shims' sockets) are directories under
# $state, and every mount they make (overlays, volumes, the pods' network
# namespaces) stays in it: when its processes are gone and its file is
# unmounted, nothing of it is left. What is global and must be put back:
# the sysctls the kubelet sets, and the cgroups (under /$cgroup_root).

node_name=node
cgroup_root=portenv-k8s
hidden_dirs=(/var/lib/kubelet /var/lib/cni /var/log/containers /run/containerd)
global_sysctls=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
daemons=(containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

pki=$state/pki
ctr_sock=$state/containerd/containerd.sock
audit_log=$state/logs/audit.log

in_ns() { nsenter --net="/run/netns/$ns" --mount="$state/ns/mnt" -- "$@"; }
kubectl_() { nsenter --net="/run/netns/$ns" -- "$cache/root/usr/bin/kubectl" --kubeconfig "$pki/admin.kubeconfig" "$@"; }

# ---- the host side ----------------------------------------------------------

# namespaces: the network namespace with the pod bridge (the node's
# address), and the mount namespace.
namespaces() {
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$ns" link add "$bridge" type bridge
  ip -n "$ns" addr add "$node_ip/${pod_cidr#*/}" dev "$bridge"
  ip -n "$ns" link set "$bridge" up
  # Service addresses that no rule translates go to the bridge, not nowhere;
  # the namespace has no other way out.
  ip -n "$ns" route add "$svc_cidr" dev "$bridge"
  ip netns exec "$ns" sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  mkdir -p "$state/ns"
  mount --bind "$state/ns" "$state/ns"
  mount --make-private "$state/ns"
  touch "$state/ns/mnt"
  unshare --mount="$state/ns/mnt" --propagation private true
  local d
  for d in "${hidden_dirs[@]}"; do
    if ! [ -d "$d" ]; then
      mkdir -p "$d"
      echo "$d" >>"$state/created-dirs"
    fi
    mkdir -p "$state/hidden$d"
    nsenter --mount="$state/ns/mnt" -- mount --bind "$state/hidden$d" "$d"
  done
}

globals_save() {
  local s
  for s in "${global_sysctls[@]}"; do echo "$s=$(sysctl -n "$s")"; done >"$state/sysctls"
}

globals_restore() {
  [ -f "$state/sysctls" ] || return 0
  local line
  while read -r line; do sysctl -q -w "$line"; done <"$state/sysctls"
  rm -f "$state/sysctls"
}

cgroups_make() {
  local c
  for c in /sys/fs/cgroup/*/; do
    c=${c%/}
    mkdir -p "$c/$cgroup_root"
    if [ -f "$c/cpuset.cpus" ]; then
      cat "$c/cpuset.cpus" >"$c/$cgroup_root/cpuset.cpus"
      cat "$c/cpuset.mems" >"$c/$cgroup_root/cpuset.mems"
    fi
  done
}

# cgroups_remove: the cgroups under /$cgroup_root, deepest first.
cgroups_remove() {
  local i left
  for i in $(seq 50); do
    left=$(find /sys/fs/cgroup/*/"$cgroup_root" -depth -type d 2>/dev/null || true)
    [ -z "$left" ] && return 0
    echo "$left" | while read -r d; do rmdir "$d" 2>/dev/null || true; done
    sleep 0.1
  done
  die "cgroups still there: $(echo "$left" | head -n3 | tr '\n' ' ')"
}

# ---- PKI ----------------------------------------------------------------------

# cert NAME SUBJECT [SANS]: an EC key and a certificate signed by the CA.
cert() {
  local name=$1 subj=$2 sans=${3:-} ext
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr"
  ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=${sans:+serverAuth,}clientAuth"
  [ -n "$sans" ] && ext+="
subjectAltName=$sans"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile <(echo "$ext") -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr"
}

# kubeconfig NAME: NAME.kubeconfig with NAME's certificate.
kubeconfig() {
  cat >"$pki/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: portenv-k8s
  cluster:
    server: https://$node_ip:6443
    certificate-authority: $pki/ca.crt
users:
- name: $1
  user:
    client-certificate: $pki/$1.crt
    client-key: $pki/$1.key
contexts:
- name: portenv-k8s
  context: {cluster: portenv-k8s, user: $1}
current-context: portenv-k8s
EOF
}

pki_make() {
  mkdir -p "$pki"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=portenv-k8s-ca" -days 2 -sha256 -out "$pki/ca.crt"
  cert apiserver "/CN=kube-apiserver" "IP:$node_ip,IP:$api_svc_ip,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert kubelet-serving "/CN=system:node:$node_name/O=system:nodes" "IP:$node_ip,DNS:$node_name"
  cert apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client/O=system:masters"
  cert admin "/CN=admin/O=system:masters"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kubelet "/CN=system:node:$node_name/O=system:nodes"
  cert kube-proxy "/CN=system:kube-proxy"
  local n
  for n in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$n"; done
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key"
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

# ---- configurations -------------------------------------------------------------

configs_write() {
  mkdir -p "$state/conf" "$state/cni" "$state/pod-logs" "$state/volume-plugins" "$state/flex" "$state/containerd"
  containerd_config >"$state/conf/containerd.toml"
  cni_config >"$state/cni/10-portenv-k8s.conflist"
  kubelet_config >"$state/conf/kubelet.yaml"
  proxy_config >"$state/conf/kube-proxy.yaml"
  audit_policy >"$state/conf/audit-policy.yaml"
}

# audit_policy: what pods' service accounts ask, and nothing else (the
# tests count a pod's requests; the controllers, which run as service
# accounts of kube-system, and the cluster's own traffic would drown them).
audit_policy() {
  cat <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: ["system:serviceaccounts:kube-system"]
- level: Metadata
  userGroups: [system:serviceaccounts]
- level: None
EOF
}

containerd_config() {
  local root=$cache/root
  cat <<EOF
version = 3
root = "$state/containerd/root"
state = "$state/containerd/state"
[grpc]
  address = "$ctr_sock"
[ttrpc]
  address = "$ctr_sock.ttrpc"
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "$pause_image"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_cdi = false
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = "$root/usr/sbin/runc"
  SystemdCgroup = false
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["$root/usr/lib/cni"]
  conf_dir = "$state/cni"
EOF
}

# cni_config: the bridge that namespaces made, pods' addresses from its
# range, hostPorts (portmap), and the firewall plugin's rules that let
# forwarded pod traffic through.
cni_config() {
  cat <<EOF
{
  "cniVersion": "1.0.0",
  "name": "portenv-k8s",
  "plugins": [
    {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$pod_cidr", "gateway": "$node_ip"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$state/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"}
  ]
}
EOF
}

kubelet_config() {
  cat <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
containerRuntimeEndpoint: unix://$ctr_sock
cgroupDriver: cgroupfs
cgroupRoot: /$cgroup_root
failCgroupV1: false
failSwapOn: false
resolvConf: ""
podLogsDir: $state/pod-logs
volumePluginDir: $state/volume-plugins
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
syncFrequency: 10s
EOF
}

# proxy_config: NodePorts on 127.0.0.1 and the node's address only;
# conntrack settings of zero leave the kernel's as they are.
proxy_config() {
  cat <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $pki/kube-proxy.kubeconfig}
hostnameOverride: $node_name
mode: iptables
clusterCIDR: $pod_cidr
nodePortAddresses: [127.0.0.1/32, $node_ip/32]
iptables: {localhostNodePorts: true}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
EOF
}

# args_of DAEMON: its command line.
args_of() {
  local b=$cache/bin r=$cache/root/usr/bin
  case $1 in
  containerd) echo "$r/containerd --config $state/conf/containerd.toml" ;;
  etcd) echo "$r/etcd --name default --data-dir $state/etcd --unsafe-no-fsync --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 --initial-cluster default=http://127.0.0.1:2380 --log-level warn" ;;
  kube-apiserver) echo "$b/kube-apiserver --etcd-servers http://127.0.0.1:2379 --bind-address $node_ip --advertise-address $node_ip --secure-port 6443 \
--service-cluster-ip-range $svc_cidr --client-ca-file $pki/ca.crt --tls-cert-file $pki/apiserver.crt --tls-private-key-file $pki/apiserver.key \
--kubelet-client-certificate $pki/apiserver-kubelet-client.crt --kubelet-client-key $pki/apiserver-kubelet-client.key \
--kubelet-certificate-authority $pki/ca.crt --kubelet-preferred-address-types InternalIP \
--service-account-issuer https://kubernetes.default.svc.cluster.local --service-account-key-file $pki/sa.pub --service-account-signing-key-file $pki/sa.key \
--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --allow-privileged --profiling=false \
--audit-policy-file $state/conf/audit-policy.yaml --audit-log-path $audit_log --audit-log-mode blocking" ;;
  kube-controller-manager) echo "$b/kube-controller-manager --kubeconfig $pki/controller-manager.kubeconfig --leader-elect=false --use-service-account-credentials \
--service-account-private-key-file $pki/sa.key --root-ca-file $pki/ca.crt --service-cluster-ip-range $svc_cidr --cluster-cidr $pod_cidr \
--flex-volume-plugin-dir $state/flex --bind-address 127.0.0.1 --profiling=false" ;;
  kube-scheduler) echo "$b/kube-scheduler --kubeconfig $pki/scheduler.kubeconfig --leader-elect=false --bind-address 127.0.0.1 --profiling=false" ;;
  kubelet) echo "$b/kubelet --config $state/conf/kubelet.yaml --kubeconfig $pki/kubelet.kubeconfig --node-ip $node_ip --hostname-override $node_name" ;;
  kube-proxy) echo "$b/kube-proxy --config $state/conf/kube-proxy.yaml" ;;
  esac
}

# start DAEMON: in the namespaces, its pid in pids/DAEMON, its output in logs/.
start() {
  mkdir -p "$state/pids" "$state/logs"
  # shellcheck disable=SC2046,SC2016
  setsid nsenter --net="/run/netns/$ns" --mount="$state/ns/mnt" -- /bin/sh -c 'echo $$ >"$1"; shift; exec "$@"' \
    sh "$state/pids/$1" env -i PATH="$cache/root/usr/bin:$cache/root/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root $(args_of "$1") \
    >"$state/logs/$1.log" 2>&1 </dev/null 9>&- &
  # Killed at down by pid, not as this shell's job.
  disown $!
}

# alive DAEMON: its process is there and not a zombie.
alive() {
  local pid st
  pid=$(cat "$state/pids/$1" 2>/dev/null) || return 1
  st=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_for WHAT SECONDS CMD...: polls CMD every 0.1s; the daemons must stay up.
wait_for() {
  local what=$1 limit=$2 t0 d
  shift 2
  t0=$(now)
  while ! "$@" >/dev/null 2>&1; do
    for d in "${daemons[@]}"; do
      if [ -f "$state/pids/$d" ] && ! alive "$d"; then
        tail -n 20 "$state/logs/$d.log" | sed 's/^/  | /' >&2
        die "$d exited while waiting for $what (log $state/logs/$d.log)"
      fi
    done
    if awk -v a="$t0" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
      die "no $what within ${limit}s (logs in $state/logs)"
    fi
    sleep 0.1
  done
}

# ---- checks -----------------------------------------------------------------------

ctr_() { in_ns "$cache/root/usr/bin/ctr" --address "$ctr_sock" -n k8s.io "$@"; }
etcd_healthy() { in_ns curl -fsS http://127.0.0.1:2379/health | grep -q '"health":"true"'; }
api_ready() { kubectl_ get --raw /readyz; }
node_ready() { [ "$(kubectl_ get node "$node_name" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
sa_ready() { kubectl_ -n default get serviceaccount default && kubectl_ -n default get configmap kube-root-ca.crt; }
# kube-proxy has written the rules of the API's Service and its endpoint.
proxy_synced() { in_ns iptables -t nat -S KUBE-SERVICES | grep -q -- "-d $api_svc_ip/32"; }

netns_exists() { ip netns list | grep -q "^$ns\( \|$\)"; }

# image_ref NAME: NAME as containerd stores it (docker.io/library/x:latest).
image_ref() {
  local n=$1 first=${1%%/*}
  if [ "$first" = "$n" ]; then
    n=docker.io/library/$n
  elif ! [[ $first == *.* || $first == *:* || $first == localhost ]]; then
    n=docker.io/$n
  fi
  [[ ${n##*/} == *:* || $n == *@* ]] || n=$n:latest
  echo "$n"
}

# load_image NAME DIR|TAR [CMD...]: the image into the cluster's
# containerd; a directory becomes a one-layer image named NAME (CMD its
# command), a tar must carry NAME.
load_image() {
  local name=$1 src=$2 tar ref
  shift 2
  [ -S "$ctr_sock" ] || die "image: the cluster is not up (no $ctr_sock); start it with: bash .ci/k8s.sh up"
  tar=$src
  if [ -d "$src" ]; then
    tar=$(mktemp "${TMPDIR:-/tmp}/k8s-image.XXXXXX.tar")
    archive_from_dir "$name" "$src" "$tar" "$@"
  fi
  [ -f "$tar" ] || die "image: $src is neither a directory nor a docker-archive tar"
  ctr_ images import "$tar" >/dev/null || die "image: ctr images import $src failed (is it a docker-archive tar?)"
  [ "$tar" = "$src" ] || rm -f "$tar"
  ref=$(image_ref "$name")
  ctr_ images ls -q "name==$ref" | grep -qx "$ref" || die "image: $src loaded, but it holds no image named $name ($ref)"
  log "image $ref loaded"
}

images_load() {
  load_image "$pause_image" "$cache/images/pause.tar"
  load_image "$test_image" "$cache/images/busybox.tar"
}

# ---- up and down ---------------------------------------------------------------

up() {
  local t0 d
  t0=$(now)
  [ -x "$cache/bin/kubelet" ] && [ -f "$cache/images/busybox.tar" ] || die "not built; run: bash .ci/k8s.sh build"
  if [ -d "$state" ] && alive kube-apiserver && alive kubelet && node_ready >/dev/null 2>&1; then
    log "already up: API https://$node_ip:6443, KUBECONFIG=$pki/admin.kubeconfig"
    return 0
  fi
  if [ -d "$state" ] || netns_exists; then
    log "what an earlier run left is removed first"
    down
  fi
  mkdir -p "$state"
  globals_save
  step "PKI (openssl, EC keys)" pki_make
  step "namespaces: network $ns (bridge $bridge at $node_ip, Services $svc_cidr) and mount" namespaces
  cgroups_make
  configs_write
  start containerd
  start etcd
  start kube-apiserver
  wait_for "answer from containerd" 30 ctr_ version
  step "images $pause_image and $test_image loaded" images_load
  wait_for "etcd health" 30 etcd_healthy
  wait_for "kube-apiserver /readyz" 60 api_ready
  log "containerd, etcd, kube-apiserver ready ($(since "$t0"))"
  for d in kube-controller-manager kube-scheduler kubelet kube-proxy; do start "$d"; done
  wait_for "node Ready" 60 node_ready
  log "node $node_name Ready ($(since "$t0"))"
  wait_for "default ServiceAccount and kube-root-ca.crt" 60 sa_ready
  wait_for "kube-proxy's rules for the API's Service" 60 proxy_synced
  log "up in $(since "$t0"): API https://$node_ip:6443, KUBECONFIG=$pki/admin.kubeconfig, network namespace $ns"
}

# apiserver_stop: kube-apiserver ends at once (SIGKILL: its graceful
# shutdown waits for its watches, over 10s); the other daemons stay and
# retry, as in a cluster whose API server restarts.
apiserver_stop() {
  local pid i
  alive kube-apiserver || die "stop-apiserver: kube-apiserver is not running; start the cluster with: bash .ci/k8s.sh up"
  pid=$(cat "$state/pids/kube-apiserver")
  kill -KILL "$pid"
  for i in $(seq 50); do
    alive kube-apiserver || break
    sleep 0.1
  done
  alive kube-apiserver && die "stop-apiserver: kube-apiserver (pid $pid) is still there 5s after SIGKILL"
  log "kube-apiserver stopped"
}

# apiserver_start: kube-apiserver again, with the same flags, until /readyz.
apiserver_start() {
  local t0
  t0=$(now)
  [ -d "$state/pids" ] || die "start-apiserver: the cluster is not up; start it with: bash .ci/k8s.sh up"
  alive kube-apiserver && die "start-apiserver: kube-apiserver is already running"
  # The log of the first start is kept beside the new one.
  [ -f "$state/logs/kube-apiserver.log" ] && mv "$state/logs/kube-apiserver.log" "$state/logs/kube-apiserver.log.$(date +%s%N)"
  start kube-apiserver
  wait_for "kube-apiserver /readyz" 60 api_ready
  log "kube-apiserver ready again ($(since "$t0"))"
}

# mine: pids of the processes in the cluster's namespaces, and all they
# started (the containers, in namespaces of their own, are children of shims).
mine() {
  local netns=none mntns=none p pp n m line
  [ -e "/run/netns/$ns" ] && netns="net:[$(stat -L -c %i "/run/netns/$ns")]"
  [ -e "$state/ns/mnt" ] && mntns="mnt:[$(stat -L -c %i "$state/ns/mnt" 2>/dev/null)]"
  declare -A parent=() in=()
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    # No command per process: there are hundreds.
    read -r line 2>/dev/null <"/proc/$p/stat" || continue
    line=${line##*) }
    pp=${line#* }
    pp=${pp%% *}
    [ -n "$pp" ] || continue
    parent[$p]=$pp
    n=$(readlink "/proc/$p/ns/net" 2>/dev/null) || continue
    m=$(readlink "/proc/$p/ns/mnt" 2>/dev/null) || continue
    if [ "$n" = "$netns" ] || [ "$m" = "$mntns" ]; then in[$p]=1; fi
  done
  local changed=1
  while [ $changed = 1 ]; do
    changed=0
    for p in "${!parent[@]}"; do
      if [ -z "${in[$p]:-}" ] && [ -n "${in[${parent[$p]}]:-}" ]; then
        in[$p]=1
        changed=1
      fi
    done
  done
  [ ${#in[@]} -eq 0 ] || echo "${!in[@]}"
}

# processes_gone: SIGTERM to the daemons, a short grace, then SIGKILL to all.
processes_gone() {
  local d pid i left
  for d in "${daemons[@]}"; do
    alive "$d" && kill -TERM "$(cat "$state/pids/$d")" 2>/dev/null || true
  done
  for i in $(seq 20); do
    left=0
    for d in "${daemons[@]}"; do alive "$d" && left=1; done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for i in $(seq 50); do
    left=$(mine)
    [ -z "$left" ] && return 0
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null || true
    sleep 0.1
  done
  die "processes still there after SIGKILL: $left"
}

down() {
  local t0 d
  t0=$(now)
  if ! [ -d "$state" ] && ! netns_exists; then
    log "not running"
    return 0
  fi
  processes_gone
  if [ -e "$state/ns/mnt" ]; then
    umount "$state/ns/mnt" 2>/dev/null || true
    umount "$state/ns" 2>/dev/null || true
  fi
  ! netns_exists || ip netns delete "$ns"
  netns_exists && die "network namespace $ns is still there"
  cgroups_remove
  globals_restore
  if [ -f "$state/created-dirs" ]; then
    while read -r d; do rmdir "$d" || die "$d was made for the cluster but is not empty"; done <"$state/created-dirs"
  fi
  if [ -d "$state/logs" ]; then
    rm -rf "$cache/last-logs"
    cp -a "$state/logs" "$cache/last-logs"
  fi
  grep -q " $state" /proc/self/mounts && die "mounts under $state are still there"
  rm -rf "$state"
  log "down in $(since "$t0"): no process, mount, cgroup or namespace of the cluster left (its logs: $cache/last-logs)"
}
