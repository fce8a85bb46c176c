#!/usr/bin/env bash
# Installs the Debian (bookworm) packages confpool needs, only those missing.
# Usage: scripts/install-deps.sh [build|check|demo|fuzz|azcli|bench]
# (azcli: the real Azure CLI for tests/cli/az-real.sh; check includes it;
#  check also installs what no test may skip: cryptsetup-bin for the LUKS2
#  cross-checks, python3-jwt for the JWT interop test, kubectl and
#  python3-kubernetes for tests/cli/kubectl.sh, postgresql-15 for the store
#  tests against PostgreSQL and the replica failover test, osslsigncode for
#  the Authenticode cross-check of tests/cli/tdx-measure.sh)
set -euo pipefail
what=${1:-build}
pkgs=(build-essential cmake pkg-config libssl-dev openssl nettle-dev libgmp-dev libjansson-dev
      libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev ca-certificates
      libsqlite3-dev libpq-dev curl libtss2-dev libyaml-dev python3)
case "$what" in
  check) pkgs+=(clang libclang-rt-14-dev jq xxd ovmf swtpm swtpm-tools tpm2-tools azure-cli cryptsetup-bin procps xz-utils
                python3-jwt python3-cryptography python3-kubernetes postgresql-15 osslsigncode)
         # kubectl for tests/cli/kubectl.sh: Debian's kubernetes-client, unless another
         # package already provides /usr/bin/kubectl (they conflict on that file)
         command -v kubectl >/dev/null || pkgs+=(kubernetes-client) ;;
  azcli) pkgs+=(azure-cli jq) ;;
  demo)  pkgs+=(jq ovmf swtpm swtpm-tools tpm2-tools procps) ;;
  bench) pkgs+=(ovmf swtpm swtpm-tools gnuplot-nox python3-jmespath) ;;
  fuzz)  pkgs+=(clang libclang-rt-14-dev) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
