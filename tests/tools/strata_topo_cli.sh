#!/bin/bash
# strata-topo end to end, as a user runs it: the local machine, every shared topology file, every
# machine and fabric preset that --list names, every export format, and bad input. Each export is
# checked to be what it claims (SVG starts as SVG, JSON parses, XML is XML). Exit 0 only if all
# pass; every failure is printed.
#   strata_topo_cli.sh PATH/TO/strata-topo [SHARED/TOPOLOGIES/DIR]
set -u
tool=${1:?path to strata-topo}
topologies=${2:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
machines=()
fabrics=()

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run NAME ARGS...: the tool must exit 0 and print something.
run() {
  local name=$1
  shift
  if ! "$tool" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
    fail "$name: strata-topo $* exited non-zero: $(head -c 400 "$work/$name.err")"
    return 1
  fi
  if [[ ! -s "$work/$name.out" ]]; then
    fail "$name: strata-topo $* printed nothing"
    return 1
  fi
  return 0
}

# check_export FILE FORMAT: the file holds what the format promises.
check_export() {
  local file=$1 format=$2
  if [[ ! -s "$file" ]]; then
    fail "$file: empty $format export"
    return
  fi
  case "$format" in
    svg)
      head -c 5 "$file" | grep -qE '^(<svg|<\?xml)' || fail "$file: does not start with <svg or <?xml"
      grep -q '</svg>' "$file" || fail "$file: no closing </svg>"
      ;;
    json)
      python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$file" 2>"$work/json.err" ||
        fail "$file: JSON does not parse: $(head -c 300 "$work/json.err")"
      ;;
    nccl-xml | hwloc-xml)
      python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$file" 2>"$work/xml.err" ||
        fail "$file: XML does not parse: $(head -c 300 "$work/xml.err")"
      ;;
    dot)
      head -n 1 "$file" | grep -qE '^(strict )?(di)?graph ' || fail "$file: does not start as a DOT graph"
      local open close
      open=$(tr -cd '{' <"$file" | wc -c)
      close=$(tr -cd '}' <"$file" | wc -c)
      [[ "$open" -eq "$close" ]] || fail "$file: unbalanced braces ($open { vs $close })"
      ;;
  esac
}

# machine LABEL HWLOC SOURCE-ARGS...: the views and every export of one machine. HWLOC is "yes"
# when the source is hwloc (live discovery, an hwloc XML file): hwloc XML is written back from
# what hwloc gave, so other sources may refuse that one export, with a message that says so.
machine() {
  local label=$1 hwloc=$2
  shift 2
  run "$label.default" "$@" || return
  grep -q 'Legend:' "$work/$label.default.out" || fail "$label: default view has no matrix legend"
  run "$label.summary" "$@" --summary
  run "$label.tree" "$@" --tree
  run "$label.matrix" "$@" --matrix
  for format in nccl-xml hwloc-xml json dot svg; do
    local file="$work/$label.$format"
    if "$tool" "$@" --export "$format" -o "$file" 2>"$work/$label.$format.err"; then
      check_export "$file" "$format"
    elif [[ $format == hwloc-xml && $hwloc != yes ]] && grep -q '^strata-topo: .*hwloc' "$work/$label.$format.err"; then
      echo "note: $label: no hwloc XML for a source that is not hwloc ($(head -c 200 "$work/$label.$format.err"))"
    else
      fail "$label: --export $format: $(head -c 400 "$work/$label.$format.err")"
    fi
  done
}

# The local machine, whatever it has.
machine local yes

# Every shared topology file, and what it exports read back in.
if [[ -n "$topologies" ]]; then
  found=0
  for file in "$topologies"/*.xml; do
    [[ -e "$file" ]] || continue
    found=1
    label=file.$(basename "$file" .xml)
    hwloc=no
    grep -q '<topology' "$file" && hwloc=yes
    machine "$label" "$hwloc" --input "$file"
    for format in nccl-xml hwloc-xml; do
      exported="$work/$label.$format"
      [[ -s "$exported" ]] || continue
      run "$label.$format.reread" --input "$exported" --summary || true
    done
  done
  [[ $found -eq 1 ]] || echo "note: no .xml files in $topologies: the file checks were skipped (the shared topologies sit beside the checkout)"
fi

# Every preset --list names.
if run list --list; then
  mapfile -t machines < <(awk '/^Machine presets/ {s = 1; next} /^Fabric presets/ {s = 0} s && /^  [^ ]/ {print $1}' "$work/list.out")
  mapfile -t fabrics < <(awk '/^Fabric presets/ {s = 1; next} /^[^ ]/ {s = 0} s && /^  [^ ]/ {print $1}' "$work/list.out")
  [[ ${#machines[@]} -gt 0 ]] || fail "--list names no machine presets"
  [[ ${#fabrics[@]} -gt 0 ]] || fail "--list names no fabric presets"
  for name in "${machines[@]}"; do
    machine "preset.$name" no --preset "$name"
  done
  for name in "${fabrics[@]}"; do
    label="fabric.${name//[^A-Za-z0-9_.-]/_}"
    run "$label" --fabric "$name" || continue
    grep -q 'Bisection' "$work/$label.out" || fail "$label: summary has no bisection line"
    for format in json svg; do
      if "$tool" --fabric "$name" --export "$format" -o "$work/$label.$format" 2>"$work/$label.err"; then
        check_export "$work/$label.$format" "$format"
      else
        fail "$label: --export $format: $(head -c 400 "$work/$label.err")"
      fi
    done
  done
fi

# expect_error LABEL ARGS...: exits non-zero with a "strata-topo: " message.
expect_error() {
  local label=$1
  shift
  if "$tool" "$@" >"$work/$label.out" 2>"$work/$label.err"; then
    fail "$label: strata-topo $* succeeded"
  elif ! grep -q . "$work/$label.err"; then
    fail "$label: strata-topo $* failed without a message"
  fi
}

printf 'this is not a topology\n<<<\0garbage' >"$work/garbage.xml"
expect_error garbage --input "$work/garbage.xml"
grep -q '^strata-topo: ' "$work/garbage.err" || fail "garbage: message does not start with 'strata-topo: '"
printf '<system version="1"><cpu numaid="0"><pci busid="0000:01:00.0"' >"$work/truncated.xml"
expect_error truncated --input "$work/truncated.xml"
expect_error missing --input "$work/no-such-file.xml"
expect_error unknown-preset --preset no-such-machine
if [[ ${#machines[@]} -gt 0 ]] && ! grep -q -- "${machines[0]}" "$work/unknown-preset.err"; then
  fail "unknown preset: the message does not list the known presets"
fi
expect_error unknown-fabric --fabric no-such-fabric
expect_error unknown-format --preset "${machines[0]:-dgx-h100}" --export png

if [[ $failures -gt 0 ]]; then
  echo "strata_topo_cli: $failures failure(s)"
  exit 1
fi
echo "strata_topo_cli: all passed"
exit 0
