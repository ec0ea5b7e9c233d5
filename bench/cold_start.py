"""Cold start: how long importing each handler module takes in a fresh interpreter,
against `import boto3` alone in the same run; and the size of what is deployed."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from campaign_local.template import Template, find_template

REPEATS = 5
_LOAD = (
    "import importlib.util, time; t = time.perf_counter(); "
    "spec = importlib.util.spec_from_file_location('handler', {path!r}); "
    "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
    "print((time.perf_counter() - t) * 1000)"
)
_BOTO3 = "import time; t = time.perf_counter(); import boto3; print((time.perf_counter() - t) * 1000)"


def run() -> dict[str, Any]:
    template = Template(find_template())
    env = {"POWERTOOLS_TRACE_DISABLED": "true", "PATH": "/usr/bin:/bin"}
    boto3_ms = _median_ms(_BOTO3, env)
    boto3_importtime = _importtime_ms("import boto3", env)
    functions = {}
    for logical_id, spec in sorted(template.functions().items()):
        load = _LOAD.format(path=str(spec.handler_file))
        functions[logical_id] = {
            "importMs": round(_median_ms(load, env), 1),
            "importtimeMs": round(_importtime_ms(load, env), 1),
            "codeBytes": _tree_bytes(spec.code_dir),
        }
        print(f"   {logical_id}: {functions[logical_id]['importMs']} ms")
    layers = {
        name: _layer_size(template.root / path)
        for name, path in (("CommonLayer", "layers/common"), ("ApiLayer", "layers/api"))
    }
    return {
        "command": "make bench RECORD=1 ONLY=cold_start  (python -m bench --record cold_start)",
        "setup": f"median of {REPEATS} fresh interpreters ({sys.version.split()[0]}), tracing off; layer sizes as "
        "`pip install --target` for python3.13 arm64, everything included (what `sam build` packs)",
        "importBoto3Ms": round(boto3_ms, 1),
        "importtimeBoto3Ms": round(boto3_importtime, 1),
        "functions": functions,
        "layers": layers,
    }


def _median_ms(code: str, env: dict[str, str]) -> float:
    times = []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def _importtime_ms(code: str, env: dict[str, str]) -> float:
    """What `python -X importtime` reports: the sum of the cumulative times of the
    top-level imports (median of the runs)."""
    totals = []
    for _ in range(REPEATS):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, env=env
        )
        total_us = 0
        for line in out.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            fields = line.split("|")
            if len(fields) == 3 and not fields[2].startswith("  "):  # depth 0: " name"
                total_us += int(fields[1].strip())
        totals.append(total_us / 1000)
    return statistics.median(totals)


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _layer_size(folder: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "python"
        requirements = folder / "requirements.txt"
        lines = [ln for ln in requirements.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        if lines:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--target",
                    str(target),
                    "--platform",
                    "manylinux2014_aarch64",
                    "--only-binary=:all:",
                    "--python-version",
                    "3.13",
                    "--implementation",
                    "cp",
                    "-r",
                    str(requirements),
                ],
                check=True,
                capture_output=True,  # pip warns about the venv it is not installing into
            )
        for package in folder.iterdir():
            if package.is_dir() and (package / "__init__.py").exists():
                shutil.copytree(package, target / package.name, ignore=shutil.ignore_patterns("__pycache__"))
        # Everything the requirements pull in ships, as `sam build` packs it (boto3 and
        # botocore too: the layer pins them, see the README's "The layer's SDK").
        unzipped = _tree_bytes(target)
        archive = Path(tmp) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in target.rglob("*"):
                if path.is_file():
                    zf.write(path, path.relative_to(target.parent))
        return {"unzippedBytes": unzipped, "zippedBytes": archive.stat().st_size}
