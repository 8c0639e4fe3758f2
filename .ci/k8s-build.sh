# Sourced by .ci/k8s.sh: `build`, and the images.
#
# The cache ($cache):
#   apt/        a private apt configuration and state (the host's is untouched)
#   debs/       the packages, root/ what they hold (dpkg-deb -x)
#   mod/        the module that builds k8s.io/kubernetes's commands: it
#               requires k8s.io/kubernetes and replaces each of its staging
#               modules (./staging/src/... in its go.mod) with the version
#               published beside it
#   bin/        kube-apiserver, kube-controller-manager, kube-scheduler,
#               kubelet, kube-proxy; helpers/ pause and podself
#   images/     the docker-archive tars loaded at each start
#   gocache/    Go's build cache for the Kubernetes build

go_cmd() { echo "${GO:-$(command -v go || echo /usr/local/go/bin/go)}"; }

apt_private() {
  apt-get -o Dir::Etc::SourceList="$cache/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::State::Lists="$cache/apt/lists" -o Dir::State::status="$cache/apt/status" \
    -o Dir::Cache="$cache/apt/cache" -o Acquire::Check-Valid-Until=false "$@"
}

apt_private_cache() {
  apt-cache -o Dir::Etc::SourceList="$cache/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::State::Lists="$cache/apt/lists" -o Dir::State::status="$cache/apt/status" \
    -o Dir::Cache="$cache/apt/cache" "$@"
}

apt_setup() {
  local archive
  archive=${DEBIAN_MIRROR:-$(debian_mirror "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" | head -n1)}
  [ -n "$archive" ] || die "no apt source of Debian main found in /etc/apt/sources.list{,.d}; set DEBIAN_MIRROR"
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
  : >"$cache/apt/status"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$archive" sid "$archive" bookworm >"$cache/apt/sources.list"
}

# deb_version PKG SUITE: the version SUITE serves, from the list that
# debs_fetch asks apt-cache for once (each call reads all the lists again).
deb_version() {
  awk -F' *[|] *' -v p="$1" -v s=" $2/main " '$1 ~ "^ *" p "$" && (" " $3 " ") ~ s { print $2; exit }' "$cache/apt/madison"
}

debs_download() { (cd "$cache/debs" && apt_private download "$@"); }

# debs_fetch: the packages at the pinned upstream versions, unpacked into root/.
debs_fetch() {
  local d pkg suite want got pins=() stamp names=()
  for d in "${debs[@]}"; do names+=("${d%% *}"); done
  apt_private_cache madison "${names[@]}" >"$cache/apt/madison"
  for d in "${debs[@]}"; do
    read -r pkg suite want <<<"$d"
    got=$(deb_version "$pkg" "$suite")
    [ -n "$got" ] || die "Debian $suite has no package $pkg"
    case ${got#*:} in
    "$want"*) ;;
    *) die "Debian $suite serves $pkg $got, not $want as this script expects; update the pin in .ci/k8s.sh" ;;
    esac
    pins+=("$pkg=$got")
  done
  stamp="${pins[*]}"
  if [ "$(cat "$cache/root/.debs" 2>/dev/null)" = "$stamp" ]; then
    log "packages unpacked: $stamp"
    return 0
  fi
  rm -rf "$cache/debs" "$cache/root"
  mkdir -p "$cache/debs" "$cache/root"
  step "apt-get download ${pins[*]}" debs_download "${pins[@]}"
  for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$cache/root"; done
  echo "$stamp" >"$cache/root/.debs"
  log "unpacked into $cache/root"
}

# go_mod_write: the module under mod/, from k8s.io/kubernetes's own go.mod.
go_mod_write() {
  local go kmod staging
  go=$(go_cmd)
  mkdir -p "$cache/mod"
  kmod=$(cd "$cache/mod" && GOFLAGS=-mod=mod "$go" mod download -json "k8s.io/kubernetes@$k8s_version" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$kmod" ] || die "no go.mod of k8s.io/kubernetes@$k8s_version in the module cache"
  staging=$(awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// { print $1 }' "$kmod")
  [ -n "$staging" ] || die "k8s.io/kubernetes@$k8s_version's go.mod names no staging modules"
  {
    echo "module portenv.ci/k8s"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $k8s_version"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m v0.${k8s_version#v1.}"; done
    echo ")"
  } >"$cache/mod/go.mod"
}

in_mod() { (cd "$cache/mod" && "$@"); }

kube_cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

go_build() {
  local go stamp pkgs=() c v=${k8s_version#v} ldflags
  go=$(go_cmd)
  stamp="$k8s_version $("$go" env GOVERSION)"
  if [ "$(cat "$cache/bin/.version" 2>/dev/null)" = "$stamp" ]; then
    log "${kube_cmds[*]} built: $stamp"
    return 0
  fi
  step "go.mod requiring k8s.io/kubernetes $k8s_version, its staging modules replaced" go_mod_write
  for c in "${kube_cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  step "go get (k8s.io/kubernetes $k8s_version and its dependencies)" in_mod "$go" get "${pkgs[@]}"
  ldflags="-s -w"
  ldflags+=" -X k8s.io/component-base/version.gitVersion=$k8s_version"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=${v%%.*} -X k8s.io/component-base/version.gitMinor=$(echo "$v" | cut -d. -f2)"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  rm -rf "$cache/bin.tmp"
  mkdir -p "$cache/bin.tmp"
  step "go build -o bin/ ${kube_cmds[*]} (one build; minutes when cold)" \
    in_mod env CGO_ENABLED=0 GOCACHE="$cache/gocache" GOFLAGS=-mod=mod "$go" build -trimpath -ldflags "$ldflags" -o "$cache/bin.tmp/" "${pkgs[@]}"
  echo "$stamp" >"$cache/bin.tmp/.version"
  rm -rf "$cache/bin"
  mv "$cache/bin.tmp" "$cache/bin"
}

# helpers_build: pause (the sandbox's process) and podself, from this
# repository (Go's own cache makes it quick when nothing changed).
helpers_build() {
  local go
  go=$(go_cmd)
  mkdir -p "$cache/helpers"
  (cd "$repo" && CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o "$cache/helpers/" ./internal/k8sci/pause ./internal/k8sci/podself)
}

# archive_from_dir NAME DIR OUT [CMD...]: a docker-archive of one layer
# holding DIR, tagged NAME, CMD its command (an image without one runs
# only with a command in the pod's spec). Reproducible: same DIR, same ID.
archive_from_dir() {
  local name=$1 dir=$2 out=$3 tmp layer_sha config_sha diff cmd= a
  shift 3
  for a in "$@"; do
    a=${a//\\/\\\\}
    cmd+=${cmd:+,}\"${a//\"/\\\"}\"
  done
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/k8s-image.XXXXXX")
  tar -C "$dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$tmp/layer.tar" .
  layer_sha=$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)
  diff="sha256:$layer_sha"
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":[%s]},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created_by":"portenv .ci/k8s.sh"}]}' \
    "$cmd" "$diff" >"$tmp/config"
  config_sha=$(sha256sum "$tmp/config" | cut -d' ' -f1)
  mv "$tmp/config" "$tmp/$config_sha.json"
  mkdir "$tmp/$layer_sha"
  mv "$tmp/layer.tar" "$tmp/$layer_sha/layer.tar"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$config_sha" "$name" "$layer_sha" >"$tmp/manifest.json"
  tar -C "$tmp" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out" manifest.json "$config_sha.json" "$layer_sha"
  rm -rf "$tmp"
}

images_make() {
  local r
  mkdir -p "$cache/images"
  r=$(mktemp -d "${TMPDIR:-/tmp}/k8s-root.XXXXXX")
  install -D -m 755 "$cache/helpers/pause" "$r/pause"
  archive_from_dir "$pause_image" "$r" "$cache/images/pause.tar" /pause
  rm -rf "$r"
  r=$(mktemp -d "${TMPDIR:-/tmp}/k8s-root.XXXXXX")
  mkdir -p "$r/bin" "$r/tmp" "$r/etc"
  install -m 755 "$cache/root/bin/busybox" "$r/bin/busybox"
  install -m 755 "$cache/helpers/podself" "$r/bin/podself"
  local a
  for a in $("$r/bin/busybox" --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
  echo 'root:x:0:0:root:/:/bin/sh' >"$r/etc/passwd"
  echo 'root:x:0:' >"$r/etc/group"
  chmod 1777 "$r/tmp"
  archive_from_dir "$test_image" "$r" "$cache/images/busybox.tar" /bin/sh
  rm -rf "$r"
}

build() {
  local t0
  t0=$(now)
  apt_setup
  step "apt-get update (private lists: Debian sid and bookworm)" apt_private update -q
  debs_fetch
  go_build
  step "helpers pause and podself (go build)" helpers_build
  step "images $pause_image and $test_image (docker-archive)" images_make
  log "build done in $(since "$t0") in $cache"
}
