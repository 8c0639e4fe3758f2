#!/usr/bin/env bash
# Prepares rootless Podman and rootless Docker for an unprivileged user, and
# what the Swarm worker test needs, on Debian (e2e/rootless_test.go,
# e2e/swarmworker_test.go). Safe to run again: it changes only what is
# missing. Run it as root, after .ci/podman-setup.sh.
#
# The tests start and stop the user's engines themselves (`podman system
# service` and `dockerd-rootless.sh`, as that user), so nothing is left
# running here; this script only makes them possible. Without systemd
# there is no user session: Podman is told to manage cgroups itself and log
# events to a file, so no D-Bus user session is needed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

user=portenv-rootless  # as e2e/rootless_test.go names it

need=()
command -v rootlesskit >/dev/null || need+=(rootlesskit)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v slirp4netns >/dev/null || need+=(slirp4netns)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
command -v podman >/dev/null || need+=(podman)
command -v dockerd-rootless.sh >/dev/null || [ -x /usr/share/docker.io/contrib/dockerd-rootless.sh ] || need+=(docker.io)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The user, with the subordinate id ranges its user namespaces map.
if ! id "$user" >/dev/null 2>&1; then
  echo "== creating user $user"
  useradd -m -s /bin/sh "$user"
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
home=$(getent passwd "$user" | cut -d: -f6)
# useradd writes the ranges when login.defs asks it to; add them if not.
next_range() { # file: the first start above every range in it
  awk -F: 'BEGIN { n = 100000 } NF == 3 && $2 + $3 > n { n = $2 + $3 } END { print n }' "$1"
}
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  if ! grep -q "^$user:" "$f" && ! grep -q "^$uid:" "$f"; then
    echo "$user:$(next_range "$f"):65536" >>"$f"
  fi
done

# Podman: the default rlimits are above what a limited host lets runc set
# (a pod's infra container takes its rlimits only from here).
conf="$home/.config/containers/containers.conf"
if [ ! -f "$conf" ]; then
  install -d -o "$uid" -g "$gid" "$home/.config" "$home/.config/containers"
  cat >"$conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  chown "$uid:$gid" "$conf"
fi

# Both engines' user-mode networking (slirp4netns) opens /dev/net/tun as
# the user; 0666 is its usual mode, but some machines ship it 0600.
if [ ! -c /dev/net/tun ]; then
  mkdir -p /dev/net
  mknod -m 0666 /dev/net/tun c 10 200
fi
[ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 0666 /dev/net/tun

# The runtime directory systemd-logind would make at login.
install -d -m 0700 -o "$uid" -g "$gid" "/run/user/$uid"

echo "rootless: user $user (uid $uid, subuid $(grep "^$user:" /etc/subuid | cut -d: -f2-)), XDG_RUNTIME_DIR=/run/user/$uid; $(rootlesskit --version | head -n1); $(slirp4netns --version | head -n1)"
