#!/usr/bin/env bash
# install-webgpu-deps.sh — make the `webgpu` npm package (Dawn) find a real adapter
# on a GPU-less Debian box, via Mesa's lavapipe (software Vulkan).
#
# Debian bookworm's own mesa-vulkan-drivers (22.3) is rejected by Dawn
# ("Vulkan shaderUniform*ArrayDynamicIndexing required"), so on bookworm we take
# mesa-vulkan-drivers 25.x from bookworm-backports. libvulkan1 (the loader) has no
# backport; bookworm's 1.3.239 works. Other Debian/Ubuntu releases: the distro's
# packages are installed as they are (no backports).
#
# Idempotent: if a new-enough lavapipe + loader are already there it exits
# without touching apt (no apt-get update).
#
# Env overrides:
#   DEBIAN_MIRROR   mirror URI for the backports line, if it can't be derived
#                   from the existing apt sources
#   MIN_MESA_MAJOR  minimum acceptable mesa-vulkan-drivers major version (default 25)
set -euo pipefail

MIN_MESA_MAJOR="${MIN_MESA_MAJOR:-25}"
BPO_FILE=/etc/apt/sources.list.d/bookworm-backports.sources
export DEBIAN_FRONTEND=noninteractive

log() { echo "install-webgpu-deps: $*"; }
die() { echo "install-webgpu-deps: error: $*" >&2; exit 1; }

pkg_version() { # prints the installed version of $1, or nothing
  dpkg-query -W -f='${db:Status-Abbrev} ${Version}\n' "$1" 2>/dev/null | awk '$1 ~ /^.i/ {print $2}'
}

mesa_major() { # major version number of a Debian version string, e.g. 25.0.7-2~bpo12+1 -> 25
  local v="${1#*:}"
  echo "${v%%.*}"
}

lvp_icd_present() {
  compgen -G '/usr/share/vulkan/icd.d/lvp_icd*.json' >/dev/null
}

is_ready() {
  local mesa vk
  mesa="$(pkg_version mesa-vulkan-drivers)"
  vk="$(pkg_version libvulkan1)"
  [[ -n "$mesa" && -n "$vk" ]] || return 1
  [[ "$(mesa_major "$mesa")" =~ ^[0-9]+$ ]] || return 1
  (( $(mesa_major "$mesa") >= MIN_MESA_MAJOR )) || return 1
  lvp_icd_present
}

report_ready() {
  local icd
  icd="$(compgen -G '/usr/share/vulkan/icd.d/lvp_icd*.json' | head -n1)"
  log "$1: mesa-vulkan-drivers $(pkg_version mesa-vulkan-drivers), libvulkan1 $(pkg_version libvulkan1) (lavapipe ICD: $icd)"
}

if is_ready; then
  report_ready "already installed"
  exit 0
fi

# ---- privileges -----------------------------------------------------------
SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    die "must run as root (or have sudo) to install packages"
  fi
fi
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; this script supports Debian/Ubuntu only"

# shellcheck disable=SC1091
. /etc/os-release
CODENAME="${VERSION_CODENAME:-}"

# ---- bookworm: enable bookworm-backports ------------------------------------
has_backports_source() {
  grep -rqsE --include='*.list' --include='*.sources' '^[^#]*bookworm-backports' \
    /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null
}

# Prints "URI<TAB>SIGNED_BY" of the first enabled source serving plain `bookworm`
# (deb822 *.sources first, then one-line *.list), so we reuse whatever mirror
# (or snapshot) this machine already uses.
derive_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && enabled != "no" && uris != "") {
          split(uris, u, " "); print u[1] "\t" signed; found = 1; exit
        }
        types = suites = uris = signed = enabled = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      { key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val) }
      key == "types"     { types = val }
      key == "suites"    { suites = val }
      key == "uris"      { uris = val }
      key == "signed-by" { signed = val }
      key == "enabled"   { enabled = tolower(val) }
      END { if (!found) flush() }
    ' "$f" | head -n1 | grep . && return 0
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    # deb [opts] URI bookworm comp...
    awk '$1 == "deb" {
        i = 2; opts = ""
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
        if ($(i + 1) == "bookworm") {
          signed = ""; if (match(opts, /signed-by=[^] ]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
          print $i "\t" signed; exit
        }
      }' "$f" | head -n1 | grep . && return 0
  done
  return 1
}

added_source=""
if [[ "$CODENAME" == "bookworm" ]] && ! has_backports_source; then
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    uri="$DEBIAN_MIRROR"; signed=""
  else
    line="$(derive_mirror)" || die "could not derive the Debian mirror from /etc/apt/sources*; set DEBIAN_MIRROR=<uri of the debian archive>"
    uri="${line%%$'\t'*}"; signed="${line#*$'\t'}"
  fi
  if [[ -z "$signed" && -f /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
    signed=/usr/share/keyrings/debian-archive-keyring.gpg
  fi
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: bookworm-backports"
    echo "Components: main"
    if [[ -n "$signed" ]]; then echo "Signed-By: $signed"; fi
    # snapshot mirrors serve frozen Release files whose Valid-Until has passed
    if [[ "$uri" == *snapshot* ]]; then echo "Check-Valid-Until: no"; fi
  } | "${SUDO[@]}" tee "$BPO_FILE" >/dev/null
  added_source=" (added $BPO_FILE -> $uri)"
fi

# ---- install ---------------------------------------------------------------
# apt output goes to a log that is shown only if something fails.
apt_log="$(mktemp)"
trap 'rm -f "$apt_log"' EXIT
run_apt() {
  if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    die "apt-get $* failed"
  fi
}
run_apt update
if [[ "$CODENAME" == "bookworm" ]]; then
  # -t makes apt take mesa-vulkan-drivers (and the lockstep mesa/libdrm libs it
  # needs) from backports; libvulkan1 has no backport and comes from bookworm.
  run_apt install -y --no-install-recommends -t bookworm-backports libvulkan1 mesa-vulkan-drivers
else
  run_apt install -y --no-install-recommends libvulkan1 mesa-vulkan-drivers
fi

if is_ready; then
  report_ready "installed${added_source}"
else
  die "installed mesa-vulkan-drivers '$(pkg_version mesa-vulkan-drivers)' is older than ${MIN_MESA_MAJOR}.x or has no lavapipe ICD; Dawn will likely reject it"
fi
