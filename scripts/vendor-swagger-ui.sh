#!/usr/bin/env bash
# Vendors Swagger UI (npm package swagger-ui-dist) into src/openapi/swagger-ui/
# for `axum_users::openapi::docs_router`: the files the page needs, their
# licence files, and two patches so that the page never loads anything from
# another host (see src/openapi/swagger-ui/README.md).
#
# Usage: scripts/vendor-swagger-ui.sh [VERSION]   (default: the pinned one)
# After a version change, update SWAGGER_UI_VERSION in src/openapi/ui.rs and
# the README's version and checksums.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-5.35.0}"
dest=src/openapi/swagger-ui
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf "swagger-ui-dist-$version.tgz")
src="$work/package"

mkdir -p "$dest"
cp "$src/LICENSE" "$src/NOTICE" "$src/swagger-ui-bundle.js.LICENSE.txt" "$src/favicon-32x32.png" "$dest/"

# 1. The default validator (validator.swagger.io) becomes null, so that the page
#    never calls it even if the configuration forgot `validatorUrl: null`.
sed 's#"https://validator\.swagger\.io/validator"#null#g' "$src/swagger-ui-bundle.js" > "$dest/swagger-ui-bundle.js"
# 2. No source-map comments (the maps are not vendored).
sed -e 's#/\*\# sourceMappingURL=[^*]*\*/##g' "$src/swagger-ui.css" > "$dest/swagger-ui.css"
sed -i -e '/^\/\/# sourceMappingURL=/d' "$dest/swagger-ui-bundle.js"

# What must not be left: checked here and by tests/it/openapi.rs.
if grep -q 'validator\.swagger\.io\|sourceMappingURL' "$dest/swagger-ui-bundle.js" "$dest/swagger-ui.css"; then
    echo "patch failed: a validator URL or source map is left" >&2
    exit 1
fi
if grep -Eq '@import|url\((["'"'"']?)(https?:)?//' "$dest/swagger-ui.css"; then
    echo "swagger-ui.css loads something from another host" >&2
    exit 1
fi

echo "swagger-ui-dist $version vendored into $dest"
sha256sum "$src/swagger-ui-bundle.js" "$src/swagger-ui.css" | sed "s#$src/#upstream  #"
(cd "$dest" && sha256sum swagger-ui-bundle.js swagger-ui.css favicon-32x32.png | sed 's#^#vendored  #')
