# Sourced by the scripts that rebuild the addon elsewhere (prebuildify also rebuilds build/): moves an existing
# build/ aside now and puts it back when the script exits, also on failure; what was built in build/ meanwhile
# is removed. Needs $root, the package root.
saved=""
restore_build() {
  rm -rf "$root/build"
  if [[ -n "$saved" ]]; then mv "$saved/build" "$root/build" && rmdir "$saved"; fi
}
if [[ -d "$root/build" ]]; then
  saved=$(mktemp -d "$root/.build-saved.XXXXXX")
  mv "$root/build" "$saved/build"
fi
trap restore_build EXIT
