# Sourced by the install scripts: `apt_install_missing <what> <package>...` installs the Debian packages given
# (those the caller found missing), with sudo when not root, or says that nothing is missing.
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_install_missing() {
  local what=$1
  shift
  if [ $# -eq 0 ]; then
    echo "$what: all present"
    return 0
  fi
  echo "installing: $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@"
}
