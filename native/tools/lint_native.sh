#!/usr/bin/env bash
# clang-format check of native/ against the repository's .clang-format, for `make test`:
#   native/tools/lint_native.sh          exit 1 listing the files that need formatting, else 0
#   native/tools/lint_native.sh --fix    reformat them in place (also the pending ones named below)
# Without clang-format (apt-get install clang-format) it prints SKIPPED and exits 0, like the
# other stages whose tools are missing. CLANG_FORMAT=clang-format-18 picks another binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
cf="${CLANG_FORMAT:-clang-format}"
if ! command -v "$cf" >/dev/null 2>&1; then
  echo "lint-native: SKIPPED: $cf not found (apt-get install clang-format)"
  exit 0
fi
if [[ "${1:-}" == "--fix" ]]; then
  find native \( -name '*.cpp' -o -name '*.h' \) -exec "$cf" -i {} +
  exit 0
fi
bad=()
while IFS= read -r f; do
  "$cf" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(find native \( -name '*.cpp' -o -name '*.h' \) | sort)
if ((${#bad[@]})); then
  echo "lint-native: not formatted ($("$cf" --version | head -1)); run native/tools/lint_native.sh --fix FILE:"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "lint-native: ok ($("$cf" --version | head -1))"
