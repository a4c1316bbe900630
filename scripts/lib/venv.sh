# Sourced by the scripts that need Python packages: `pinned_venv VENV REQUIREMENTS STAMP [PIP
# ARGS...]` creates the git-ignored virtual environment VENV if absent and installs REQUIREMENTS
# (pinned versions) into it, again only when that file changed since the last install (its
# sha256 is kept in VENV/STAMP); PIP ARGS (e.g. --no-deps) go to that pip install.
pinned_venv() {
  local venv="$1" req="$2" stamp="$1/$3"
  shift 3
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  local want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$@" -r "$req"
    echo "$want" > "$stamp"
  fi
}
