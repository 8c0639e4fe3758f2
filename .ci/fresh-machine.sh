#!/usr/bin/env bash
# A fresh Debian 12 machine, to run the README's commands where nothing was
# installed by hand: a root made with debootstrap --variant=minbase plus git
# and ca-certificates (what a user needs to clone), root user, no Docker, no
# Go; run in a network namespace and a private mount namespace of its own
# (pivot_root, as .ci/engines.sh runs engines), with the cgroup file systems
# for the engine it installs. Its network is a veth pair with NAT that
# reaches only the Debian mirror, the Go module proxy and the DNS resolver
# of this machine. A clean clone of this repository (its HEAD) is at
# /root/portenv.
#
#   bash .ci/fresh-machine.sh prepare          make the base root (cached)
#   bash .ci/fresh-machine.sh [--new] -- CMD   start the machine if it is not
#                                              up, run CMD as root in
#                                              /root/portenv, leave it up (a
#                                              second CMD finds what the first
#                                              left: the engine, the images);
#                                              --new: from a copy of the base
#                                              root and a new clone
#   bash .ci/fresh-machine.sh stop             stop everything in it, delete
#                                              its network namespace, veth and
#                                              NAT rules; keep its disk
#   bash .ci/fresh-machine.sh delete           stop it and delete its disk
#
# What this machine's network needs is copied from it, as a site would
# configure a new machine: /etc/resolv.conf, the CA certificates under
# /usr/local/share/ca-certificates, and the apt settings (Acquire::) of
# /etc/apt/apt.conf.d. Nothing else of the host is in the root.
#
# Environment:
#   FRESH_MACHINE_CACHE  base root and disk (default /var/cache/portenv-ci/fresh-machine)
#   DEBIAN_MIRROR        archive to debootstrap from (default: the machine's
#                        apt source of bookworm main)
set -eEuo pipefail
trap 'rc=$?; echo "fresh-machine: FAILED: \`$BASH_COMMAND\` exited $rc (line $LINENO)" >&2; exit $rc' ERR

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${FRESH_MACHINE_CACHE:-/var/cache/portenv-ci/fresh-machine}
base=$cache/base
disk=$cache/disk
state=/run/portenv-ci/fresh-machine
ns=fresh-machine
veth_host=fresh-h
veth_in=fresh-m
chain=FRESH-MACHINE
host_ip=10.231.0.1
machine_ip=10.231.0.2
suite=bookworm

log() { echo "fresh-machine: $*"; }
die() {
  echo "fresh-machine: FAILED: $*" >&2
  exit 1
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# shellcheck source=.ci/debian-mirror.sh
. "$repo/.ci/debian-mirror.sh"
# shellcheck source=.ci/roots.sh
. "$repo/.ci/roots.sh"

mirror() {
  local m=${DEBIAN_MIRROR:-$(debian_mirror "$suite" | head -n1)}
  [ -n "$m" ] || die "no apt source of $suite main found in /etc/apt/sources.list{,.d}; set DEBIAN_MIRROR"
  echo "$m"
}

# site ROOT: this machine's resolver, CA certificates and apt settings.
site() {
  local root=$1 f
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  for f in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$f" ] && cp "$f" "$root/usr/local/share/ca-certificates/"
  done
  in_root "$root" update-ca-certificates >/dev/null
  for f in /etc/apt/apt.conf.d/*; do
    grep -q '^[[:space:]]*Acquire::' "$f" 2>/dev/null && grep '^[[:space:]]*Acquire::' "$f" >>"$root/etc/apt/apt.conf.d/99site"
  done
  return 0
}

prepare() {
  local t0 archive
  if [ -f "$cache/base.ok" ] && [ -d "$base" ]; then
    log "base root: $(cat "$cache/base.ok")"
    return 0
  fi
  command -v debootstrap >/dev/null || die "needs debootstrap (apt-get install debootstrap)"
  t0=$(now)
  archive=$(mirror)
  mkdir -p "$cache"
  rm -rf "$base.tmp" "$base"
  debootstrap --variant=minbase --include=git,ca-certificates "$suite" "$base.tmp" "$archive" >"$cache/debootstrap.log" 2>&1 ||
    { tail -n 20 "$cache/debootstrap.log" >&2; die "debootstrap $suite from $archive (log $cache/debootstrap.log)"; }
  site "$base.tmp"
  # As an installed machine: no downloaded packages, no debootstrap state.
  in_root "$base.tmp" apt-get clean
  rm -rf "$base.tmp"/var/lib/apt/lists/* "$base.tmp/debootstrap"
  mv "$base.tmp" "$base"
  echo "debootstrap --variant=minbase --include=git,ca-certificates $suite $archive, $(du -sh "$base" | cut -f1)" >"$cache/base.ok"
  log "base root made in $(since "$t0"): $(cat "$cache/base.ok")"
}

up() { [ -s "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

# new_disk: the machine's disk, a copy of the base root with a clean clone.
new_disk() {
  local t0
  t0=$(now)
  rm -rf "$disk"
  cp -a "$base" "$disk.tmp"
  git clone -q "$repo" "$disk.tmp/root/portenv"
  mv "$disk.tmp" "$disk"
  log "new disk from the base root, clone of $repo at $(git -C "$disk/root/portenv" log -1 --format=%h) in /root/portenv ($(since "$t0"))"
}

# allowed: the IPv4 addresses the machine may reach on ports 80 and 443:
# the mirror's and the module proxy's, as this machine resolves them.
allowed() {
  local h proxy
  proxy=https://proxy.golang.org
  for h in $(mirror) $proxy; do
    h=${h#*://}
    h=${h%%/*}
    h=${h%%:*}
    getent ahostsv4 "$h" | awk '{ print $1 }'
  done | sort -u
}
resolvers() { awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ { print $2 }' /etc/resolv.conf; }

# rules add|del: the host's rules for the machine, in a chain of its own.
rules() {
  local op=$1 ip r mtu dev
  if [ "$op" = del ]; then
    iptables -D INPUT -i "$veth_host" -j DROP 2>/dev/null || true
    iptables -D FORWARD -i "$veth_host" -j "$chain" 2>/dev/null || true
    iptables -D FORWARD -o "$veth_host" -j "$chain" 2>/dev/null || true
    iptables -t nat -D POSTROUTING -s "$machine_ip/32" ! -o "$veth_host" -j MASQUERADE 2>/dev/null || true
    if iptables -S "$chain" >/dev/null 2>&1; then iptables -F "$chain" && iptables -X "$chain"; fi
    return 0
  fi
  for r in $(resolvers); do
    case $r in 127.*) die "this machine's resolver is $r, on its own loopback; give the machine one it can reach" ;; esac
  done
  iptables -N "$chain"
  iptables -A "$chain" -o "$veth_host" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  for ip in $(allowed); do
    iptables -A "$chain" -i "$veth_host" -d "$ip/32" -p tcp -m multiport --dports 80,443 -j ACCEPT
  done
  for r in $(resolvers); do
    iptables -A "$chain" -i "$veth_host" -d "$r/32" -p udp --dport 53 -j ACCEPT
    iptables -A "$chain" -i "$veth_host" -d "$r/32" -p tcp --dport 53 -j ACCEPT
  done
  iptables -A "$chain" -j DROP
  iptables -I FORWARD 1 -i "$veth_host" -j "$chain"
  iptables -I FORWARD 1 -o "$veth_host" -j "$chain"
  iptables -I INPUT 1 -i "$veth_host" -j DROP
  iptables -t nat -I POSTROUTING 1 -s "$machine_ip/32" ! -o "$veth_host" -j MASQUERADE
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || die "this machine does not forward IPv4 (net.ipv4.ip_forward=0); the machine would reach nothing"
}

network() {
  local dev mtu
  dev=$(ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
  mtu=$(cat "/sys/class/net/$dev/mtu" 2>/dev/null || echo 1500)
  ip netns add "$ns"
  ip link add "$veth_host" mtu "$mtu" type veth peer name "$veth_in" mtu "$mtu"
  ip link set "$veth_in" netns "$ns"
  ip addr add "$host_ip/30" dev "$veth_host"
  ip link set "$veth_host" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$machine_ip/30" dev "$veth_in"
  ip -n "$ns" link set "$veth_in" up
  ip -n "$ns" route add default via "$host_ip"
  rules add
}

start() {
  local t0 i
  t0=$(now)
  [ -d "$disk" ] || new_disk
  stop quiet
  mkdir -p "$state"
  network
  # A machine's own /run, empty at each start.
  # shellcheck disable=SC2016
  root_boot "$disk" "$state" "$ns" 'mount -t tmpfs -o mode=755 tmpfs "$r/run" && mkdir -m 1777 "$r/run/lock"' "sleep infinity"
  for i in $(seq 100); do
    up && break
    sleep 0.1
  done
  up || { cat "$state/engine.log" >&2; die "the machine did not start"; }
  log "started in $(since "$t0"): network namespace $ns, $machine_ip via $veth_host, reaching only $(allowed | tr '\n' ' ')on ports 80 and 443 and DNS at $(resolvers | tr '\n' ' ')"
}

stop() {
  local quiet=${1:-} t0
  t0=$(now)
  [ -d "$state" ] && ns_kill "$state"
  rules del
  ip link delete "$veth_host" 2>/dev/null || true
  ip netns delete "$ns" 2>/dev/null || true
  ip netns list | grep -q "^$ns\b" && die "network namespace $ns is still there"
  rm -rf "$state"
  [ -n "$quiet" ] || log "stopped in $(since "$t0"): nothing of it runs; namespace $ns, $veth_host and the $chain rules deleted"
}

# run CMD...: CMD as root in the machine, in /root/portenv; its status.
run() {
  local t0 rc=0
  up || start
  t0=$(now)
  log "run: $*"
  nsenter -t "$(cat "$state/pid")" -m -n -r -w -- /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
    /bin/bash -c 'cd /root/portenv && exec "$@"' bash "$@" 9>&- || rc=$?
  log "run: exit $rc after $(since "$t0")"
  return $rc
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, namespaces, mounts, NAT)"
case ${1:-} in
prepare) prepare ;;
stop) stop ;;
delete)
  stop
  rm -rf "$disk"
  log "disk deleted; the base root stays in $base"
  ;;
--new | --)
  prepare
  if [ "$1" = --new ]; then
    shift
    stop quiet
    new_disk
  fi
  [ "${1:-}" = -- ] && shift
  [ $# -gt 0 ] || die "no command; e.g. bash .ci/fresh-machine.sh -- bash try.sh"
  run "$@" || exit $?
  ;;
*)
  sed -n '2,/^set -eEuo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
