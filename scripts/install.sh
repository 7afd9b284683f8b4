#!/usr/bin/env bash
# `make install`: puts the binary, its man page and its shell completions under PREFIX (with
# DESTDIR in front). The completions come from the installed binary itself.
# Usage: scripts/install.sh DESTDIR_PREFIX BINARY MANPAGE
set -euo pipefail
root=$1 binary=$2 manpage=$3
install -D -m 0755 "$binary" "$root/bin/hogmail"
install -D -m 0644 "$manpage" "$root/share/man/man1/hogmail.1"
for shell in bash zsh fish; do
  case $shell in
    bash) target="$root/share/bash-completion/completions/hogmail" ;;
    zsh) target="$root/share/zsh/site-functions/_hogmail" ;;
    fish) target="$root/share/fish/vendor_completions.d/hogmail.fish" ;;
  esac
  mkdir -p "$(dirname "$target")"
  "$root/bin/hogmail" --generate-completion-script "$shell" >"$target.tmp"
  chmod 0644 "$target.tmp"
  mv "$target.tmp" "$target"
done
echo "Installed $("$root/bin/hogmail" --version) in $root: bin/hogmail, share/man/man1/hogmail.1 and completions for bash, zsh and fish."
