#!/usr/bin/env bash
# Installs rootful Podman on Debian for the Podman engine test
# (e2e/podman_test.go). Safe to run again. The test starts and stops
# `podman system service` itself and passes its own --ulimit values, so no
# configuration file is needed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if ! command -v podman >/dev/null || ! command -v catatonit >/dev/null; then
  echo "== installing podman"
  apt-get update -qq
  # With its recommends: netavark and aardvark-dns (networks, -p),
  # conmon, slirp4netns, uidmap, fuse-overlayfs. catatonit is the pause
  # process of a pod's infra container, built locally as no image can be
  # pulled.
  apt-get install -y -qq podman catatonit >/dev/null
fi
podman version --format 'podman {{.Client.Version}}'
