#!/usr/bin/env bash
# Proves that the .proto files compile with another language's standard tooling: installs
# grpcio-tools into .tools/python (once), compiles every proto/feedback/v1/*.proto into a
# temporary folder and imports the generated Python modules.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/.tools/python"
python="${PYTHON:-python3}"

if ! PYTHONPATH="$target" "$python" -c "import grpc_tools.protoc" >/dev/null 2>&1; then
  echo "installing grpcio-tools into $target"
  mkdir -p "$target"
  "$python" -m pip install --quiet --disable-pip-version-check --target "$target" grpcio-tools
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

cd "$root/proto"
mapfile -t files < <(find feedback -name '*.proto' | sort)
PYTHONPATH="$target" "$python" -m grpc_tools.protoc \
  -I . \
  --python_out="$out" \
  --grpc_python_out="$out" \
  "${files[@]}"

modules=()
for file in "${files[@]}"; do
  base="${file%.proto}"
  modules+=("${base//\//.}_pb2" "${base//\//.}_pb2_grpc")
done
PYTHONPATH="$out:$target" "$python" - "${modules[@]}" <<'PY'
import importlib
import sys

for name in sys.argv[1:]:
    importlib.import_module(name)
from feedback.v1 import intake_pb2

request = intake_pb2.SubmitRequest(channel="web", content="APP卡顿")
assert intake_pb2.SubmitRequest.FromString(request.SerializeToString()) == request
print(f"proto check: {len(sys.argv) - 1} python modules compiled and imported")
PY
