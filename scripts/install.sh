#!/bin/sh
# reproq installer: downloads the release asset for this machine, verifies its SHA-256 checksum
# and installs it atomically.
#
#   curl -fsSL https://github.com/reproq/reproq/releases/latest/download/install.sh | sh
#   wget -qO- https://github.com/reproq/reproq/releases/latest/download/install.sh | sh
#
# Where it installs: ./.reproq/bin/reproq when the working directory holds a manage.py (a Django
# project: `manage.py reproq …` finds it there), else $HOME/.local/bin/reproq.
#
# Environment:
#   REPROQ_VERSION        release to install, e.g. 0.1.0 or v0.1.0 (default: latest)
#   REPROQ_INSTALL_DIR    directory to install `reproq` into (overrides the two defaults above)
#   REPROQ_DOWNLOAD_BASE  URL the assets are downloaded from, as <base>/<asset> and
#                         <base>/<asset>.sha256 (default: this project's GitHub release)
#   REPROQ_UNAME_S, REPROQ_UNAME_M
#                         testing hooks: used instead of `uname -s` / `uname -m`
#
# POSIX sh (dash, busybox ash, bash, zsh). Everything happens inside main(), called on the last
# line, so a download cut short never runs half a script.
set -eu

# The one place that names where releases live.
REPROQ_RELEASES_URL="https://github.com/reproq/reproq/releases"

say() {
  printf 'reproq-install: %s\n' "$*"
}

fail() {
  printf 'reproq-install: error: %s\n' "$*" >&2
  exit 1
}

# Sets reproq_os (linux, darwin) or explains why this system is not supported.
detect_os() {
  reproq_uname_s=${REPROQ_UNAME_S:-$(uname -s)}
  case $reproq_uname_s in
    Linux) reproq_os=linux ;;
    Darwin) reproq_os=darwin ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT)
      fail "this installer is for Linux and macOS. On Windows, download reproq-windows-amd64.exe and reproq-windows-amd64.exe.sha256 from ${reproq_base} and check the file with: certutil -hashfile reproq-windows-amd64.exe SHA256"
      ;;
    *) fail "unsupported operating system: ${reproq_uname_s} (supported: Linux, Darwin/macOS; Windows: download reproq-windows-amd64.exe)" ;;
  esac
}

# Sets reproq_arch (amd64, arm64) or names the architecture it cannot handle.
detect_arch() {
  if [ -n "${REPROQ_UNAME_M:-}" ]; then
    reproq_uname_m=$REPROQ_UNAME_M
  else
    reproq_uname_m=$(uname -m)
    # A shell running under Rosetta reports x86_64 on an Apple Silicon Mac: install the native one.
    if [ "$reproq_os" = darwin ] && [ "$reproq_uname_m" = x86_64 ] \
      && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
      reproq_uname_m=arm64
    fi
  fi
  case $reproq_uname_m in
    x86_64 | amd64) reproq_arch=amd64 ;;
    aarch64 | arm64) reproq_arch=arm64 ;;
    *) fail "unsupported architecture: ${reproq_uname_m} (supported: x86_64/amd64, aarch64/arm64)" ;;
  esac
}

# download URL FILE: curl or wget, failing on HTTP errors.
download() {
  if command -v curl >/dev/null 2>&1; then
    if [ -t 2 ]; then
      curl -fL --progress-bar --retry 3 -o "$2" "$1"
    else
      curl -fsSL --retry 3 -o "$2" "$1"
    fi
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "neither curl nor wget is installed"
  fi
}

# sha256_of FILE: prints the lowercase hex SHA-256 of FILE.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    fail "cannot verify the download: neither sha256sum nor shasum is installed"
  fi
}

# On every exit: remove the temporary files and, unless the install succeeded, the directories
# this run created.
cleanup() {
  for reproq_file in "${reproq_tmp_bin:-}" "${reproq_tmp_sum:-}"; do
    [ -z "$reproq_file" ] || rm -f "$reproq_file"
  done
  if [ "${reproq_installed:-0}" != 1 ] && [ -n "${reproq_created:-}" ]; then
    reproq_file=$reproq_dir
    while rmdir "$reproq_file" 2>/dev/null && [ "$reproq_file" != "$reproq_created" ]; do
      reproq_file=$(dirname "$reproq_file")
    done
  fi
}

main() {
  reproq_version=${REPROQ_VERSION:-latest}
  if [ -n "${REPROQ_DOWNLOAD_BASE:-}" ]; then
    reproq_base=${REPROQ_DOWNLOAD_BASE%/}
  elif [ "$reproq_version" = latest ]; then
    reproq_base="${REPROQ_RELEASES_URL}/latest/download"
  else
    reproq_base="${REPROQ_RELEASES_URL}/download/v${reproq_version#v}"
  fi

  detect_os
  detect_arch
  reproq_asset="reproq-${reproq_os}-${reproq_arch}"

  if [ -n "${REPROQ_INSTALL_DIR:-}" ]; then
    reproq_dir=$REPROQ_INSTALL_DIR
  elif [ -f manage.py ]; then
    reproq_dir="$(pwd)/.reproq/bin"
  else
    [ -n "${HOME:-}" ] || fail "HOME is not set; set REPROQ_INSTALL_DIR to choose where to install"
    reproq_dir="${HOME}/.local/bin"
  fi
  reproq_dest="${reproq_dir}/reproq"

  # The outermost directory this run creates, so a failed run can leave the disk as it found it.
  reproq_created=
  reproq_file=$reproq_dir
  while [ ! -d "$reproq_file" ]; do
    reproq_created=$reproq_file
    reproq_file=$(dirname "$reproq_file")
  done
  reproq_installed=0
  trap cleanup EXIT
  mkdir -p "$reproq_dir" || fail "cannot create ${reproq_dir}"
  # Temporary files live next to the destination, so the final mv is an atomic rename.
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  reproq_tmp_bin=$(mktemp "${reproq_dir}/.reproq.XXXXXX") || fail "cannot write to ${reproq_dir}"
  reproq_tmp_sum=$(mktemp "${reproq_dir}/.reproq-sha256.XXXXXX") || fail "cannot write to ${reproq_dir}"

  say "downloading ${reproq_asset} (${reproq_version}) from ${reproq_base}"
  download "${reproq_base}/${reproq_asset}" "$reproq_tmp_bin" \
    || fail "download failed: ${reproq_base}/${reproq_asset}"
  download "${reproq_base}/${reproq_asset}.sha256" "$reproq_tmp_sum" \
    || fail "download failed: ${reproq_base}/${reproq_asset}.sha256 (refusing to install without a checksum)"

  # The first whitespace-separated token, as `manage.py reproq install` reads it.
  reproq_expected=$(tr -d '\r' <"$reproq_tmp_sum" | awk 'NR == 1 { print $1 }')
  case $reproq_expected in
    "" | *[!0-9a-f]*) fail "${reproq_asset}.sha256 does not hold a lowercase hex SHA-256" ;;
  esac
  [ "${#reproq_expected}" -eq 64 ] || fail "${reproq_asset}.sha256 does not hold a lowercase hex SHA-256"
  reproq_actual=$(sha256_of "$reproq_tmp_bin")
  if [ "$reproq_actual" != "$reproq_expected" ]; then
    fail "checksum mismatch for ${reproq_asset}: expected ${reproq_expected}, got ${reproq_actual}; nothing was installed"
  fi
  say "checksum verified (sha256 ${reproq_actual})"

  chmod 0755 "$reproq_tmp_bin"
  # Like `manage.py reproq install`: a binary that cannot print its version is never installed.
  "$reproq_tmp_bin" --version >/dev/null 2>&1 \
    || fail "the downloaded ${reproq_asset} does not run on this machine (\`reproq --version\` failed); nothing was installed"
  mv -f "$reproq_tmp_bin" "$reproq_dest"
  reproq_tmp_bin=
  reproq_installed=1

  say "installed ${reproq_dest}"
  "$reproq_dest" --version

  if [ -f manage.py ] && [ "$reproq_dir" = "$(pwd)/.reproq/bin" ]; then
    say "manage.py reproq … uses ./.reproq/bin/reproq automatically."
    say "note: \`python manage.py reproq upgrade\` (and \`install\`) would replace it with the upstream Go binary; re-run this installer instead."
  else
    case ":${PATH:-}:" in
      *":${reproq_dir}:"*) ;;
      *)
        say "${reproq_dir} is not on your PATH. Add it, e.g. in ~/.profile (or ~/.bashrc, ~/.zshrc):"
        say "  export PATH=\"${reproq_dir}:\$PATH\""
        say "or point Django at the binary: REPROQ_WORKER_BIN=${reproq_dest}"
        ;;
    esac
  fi
}

main "$@"
