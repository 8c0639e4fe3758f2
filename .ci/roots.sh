# Sourced by .ci/engines.sh and .ci/fresh-machine.sh: Debian roots run in
# namespaces of their own. The caller defines log and die.

# in_root ROOT CMD...: CMD chrooted in ROOT, with proc, sys and dev, in a
# private mount namespace (the mounts go with it).
in_root() {
  local root=$1
  shift
  unshare -m --propagation private -- /bin/sh -c '
    r=$1; shift
    mount -t proc proc "$r/proc" && mount -t sysfs sysfs "$r/sys" && mount --rbind /dev "$r/dev" &&
      exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' \
    sh "$root" "$@"
}

# root_boot ROOT STATE NETNS MOUNTS CMD: starts CMD in the background, in
# the network namespace NETNS and a private mount namespace rooted
# (pivot_root) in ROOT, with proc, sys, the cgroup file systems and dev.
# MOUNTS is shell run before the pivot, with $r the root (more mounts).
# STATE gets the namespaces' ids, the pid and CMD's output (engine.log).
# nsenter --net, not `ip netns exec`, whose remount of /sys hides the
# cgroup mounts. pivot_root, not chroot, so that what CMD starts (docker
# exec) lands in the root too.
root_boot() {
  local root=$1 state=$2 ns=$3 mounts=$4 cmd=$5
  mkdir -p "$root/.pivot"
  # shellcheck disable=SC2016
  setsid nsenter --net="/run/netns/$ns" -- unshare -m --propagation private -- /bin/sh -c '
    set -e
    r=$1 state=$2 mounts=$3 cmd=$4
    readlink /proc/self/ns/mnt >"$state/mntns"
    readlink /proc/self/ns/net >"$state/netns"
    echo $$ >"$state/pid"
    mount --bind "$r" "$r"
    mount -t proc proc "$r/proc"
    mount -t sysfs sysfs "$r/sys"
    mount --rbind /sys/fs/cgroup "$r/sys/fs/cgroup"
    mount --rbind /dev "$r/dev"
    eval "$mounts"
    cd "$r"
    pivot_root . .pivot
    exec chroot . /bin/sh -c "umount -l /.pivot && cd / && $cmd" </dev/null' \
    sh "$root" "$state" "$mounts" "exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root $cmd" \
    >"$state/engine.log" 2>&1 </dev/null 9>&- &
}

# ns_pids STATE: pids of the processes in the mount or network namespace
# root_boot recorded in STATE, and everything they started (containers,
# with namespaces of their own, are children of shims and conmon).
ns_pids() {
  local state=$1 mntns netns
  mntns=$(cat "$state/mntns" 2>/dev/null || echo none)
  netns=$(cat "$state/netns" 2>/dev/null || echo none)
  local p ppid m n
  declare -A parent=() mine=()
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    ppid=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f2) || continue
    [ -n "$ppid" ] || continue
    parent[$p]=$ppid
    m=$(readlink "/proc/$p/ns/mnt" 2>/dev/null) || continue
    n=$(readlink "/proc/$p/ns/net" 2>/dev/null) || continue
    if [ "$m" = "$mntns" ] || [ "$n" = "$netns" ]; then mine[$p]=1; fi
  done
  local changed=1
  while [ $changed = 1 ]; do
    changed=0
    for p in "${!parent[@]}"; do
      if [ -z "${mine[$p]:-}" ] && [ -n "${mine[${parent[$p]}]:-}" ]; then
        mine[$p]=1
        changed=1
      fi
    done
  done
  [ ${#mine[@]} -eq 0 ] || echo "${!mine[@]}"
}

# ns_kill STATE: kills what ns_pids finds, bounded.
ns_kill() {
  local left i
  for i in $(seq 50); do
    left=$(ns_pids "$1")
    [ -z "$left" ] && return 0
    [ "$i" = 1 ] && log "killing what is left: $(for p in $left; do printf '%s(%s) ' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"; done)"
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null || true
    sleep 0.2
  done
  die "processes still there after SIGKILL: $left"
}
