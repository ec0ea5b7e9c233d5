"""Cold start: how long importing each handler takes in a fresh interpreter, against
`import boto3` alone in the same run (issue 10: at most 1.5 x); and the size of the layers.

Measured as Lambda would run it, not in the dev virtualenv (whose extra packages change what
boto3 and httpx import, and where the X-Ray SDK, not knowing it is in Lambda, builds a
sampler with two botocore clients):

- python3.13 (LAMBDA_PYTHON, else python3.13 on PATH or pyenv's), with boto3 installed as
  the runtime has it (compiled): the runtime's SDK;
- each layer built by its own Makefile, the recipe `sam build` runs, for this machine's
  platform, on the path as /opt/python;
- each function's code copied as `sam build` copies it (source only), as /var/task;
- Lambda's environment: LAMBDA_TASK_ROOT, the template's variables, tracing as the template
  sets it (Active: the X-Ray SDK loads and patches, as it does in AWS), and no bytecode
  written (Lambda's file system is read-only: what ships uncompiled compiles at every
  cold start).

Runs interleave (boto3, then every handler, REPEATS times) so that a busy machine weighs
on all alike; the median is kept. A handler over LIMIT fails the run (after writing it).
"""

from __future__ import annotations

import glob
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from campaign_local.template import Template, find_template

REPEATS = 7
LIMIT = 1.5  # x `import boto3` alone
_TIMED = "import importlib, time; t = time.perf_counter(); importlib.import_module({module!r}); print((time.perf_counter() - t) * 1000)"
_STACK = (
    "import time; t = time.perf_counter(); import boto3; from pydantic import BaseModel; "
    "from aws_lambda_powertools import Logger, Tracer; Tracer(patch_modules=('botocore',)); {extra}"
    "print((time.perf_counter() - t) * 1000)"
)
# What each kind of handler needs of the stack on top (the brief asks for Powertools' parser
# for events, and its resolver with validation for routes): the floor our code sits on.
_FLOORS = {
    "task": "from aws_lambda_powertools.utilities.parser import event_parser; ",
    "api": "from aws_lambda_powertools.utilities.parser import event_parser; "
    "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver; "
    "APIGatewayHttpResolver(enable_validation=True); ",
}
# What Lambda sets in every function's environment (values that matter at import time).
_LAMBDA_ENV = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "PATH": "/usr/bin:/bin",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def run() -> dict[str, Any]:
    template = Template(find_template())
    work = template.root / ".bench" / "cold_start"
    shutil.rmtree(work, ignore_errors=True)
    python = _runtime(work / "runtime", _lambda_python())
    host_platform = f"manylinux2014_{platform.machine()}"
    layers: dict[str, Any] = {}
    layer_dirs: dict[str, Path] = {}
    for logical_id, resource in sorted(template.of_type("AWS::Serverless::LayerVersion").items()):
        source = template.root / resource["Properties"]["ContentUri"]
        layer_dirs[logical_id] = _build_layer(source, logical_id, work / "opt" / logical_id, python, host_platform)
        deployed = _build_layer(source, logical_id, work / "opt-deployed" / logical_id, python, None)
        layers[logical_id] = _layer_size(deployed)

    tracing = _globals(template).get("Tracing", "PassThrough")
    runs: dict[str, tuple[list[str], dict[str, str], Path]] = {}
    for logical_id, spec in sorted(template.functions().items()):
        task = work / "task" / logical_id
        shutil.copytree(spec.code_dir, task, ignore=shutil.ignore_patterns("__pycache__"))
        paths = [str(task)] + [str(layer_dirs[name] / "python") for name in _layers_of(template, logical_id)]
        env = {
            **_LAMBDA_ENV,
            **{k: str(v) for k, v in spec.environment.items() if isinstance(v, str | int)},
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "LAMBDA_TASK_ROOT": str(task),
            "_HANDLER": spec.handler,
            "PYTHONPATH": os.pathsep.join(paths),
        }
        if tracing != "Active":
            env["POWERTOOLS_TRACE_DISABLED"] = "true"
        module = spec.handler.rsplit(".", 1)[0]
        runs[logical_id] = ([python, "-c", _TIMED.format(module=module)], env, task)
    boto3_env = {**_LAMBDA_ENV, "LAMBDA_TASK_ROOT": str(work)}
    boto3_cmd = [python, "-c", _TIMED.format(module="boto3")]
    # The floor of this stack: what every handler imports before any code of ours.
    stack_env = {
        **boto3_env,
        "POWERTOOLS_SERVICE_NAME": "bench",
        "PYTHONPATH": str(layer_dirs["CommonLayer"] / "python"),
    }
    stack_cmd = [python, "-c", _STACK.format(extra="")]
    api_path = os.pathsep.join(str(layer_dirs[name] / "python") for name in ("CommonLayer", "ApiLayer"))
    floor_cmds = {kind: [python, "-c", _STACK.format(extra=extra)] for kind, extra in _FLOORS.items()}
    floor_envs = {"task": stack_env, "api": {**stack_env, "PYTHONPATH": api_path}}

    times: dict[str, list[float]] = {name: [] for name in ["boto3", "stack", *_FLOORS, *runs]}
    for _ in range(REPEATS):
        times["boto3"].append(_ms(boto3_cmd, boto3_env, work))
        times["stack"].append(_ms(stack_cmd, stack_env, work))
        for kind, cmd in floor_cmds.items():
            times[kind].append(_ms(cmd, floor_envs[kind], work))
        for name, (cmd, env, cwd) in runs.items():
            times[name].append(_ms(cmd, env, cwd))
    boto3_ms = statistics.median(times["boto3"])
    floors = {kind: statistics.median(times[kind]) for kind in _FLOORS}
    functions = {}
    for name in runs:
        import_ms = statistics.median(times[name])
        kind = "api" if "ApiLayer" in _layers_of(template, name) else "task"
        functions[name] = {
            "importMs": round(import_ms, 1),
            "ratio": round(import_ms / boto3_ms, 2),
            "kind": kind,
            "oursMs": round(import_ms - floors[kind], 1),
            "codeBytes": _tree_bytes(template.functions()[name].code_dir),
        }
        flag = "" if import_ms <= LIMIT * boto3_ms else f"  OVER {LIMIT} x"
        print(
            f"   {name}: {import_ms:.1f} ms, {import_ms / boto3_ms:.2f} x boto3, "
            f"{import_ms - floors[kind]:.1f} ms over its {kind} floor{flag}"
        )
    stack_ms = statistics.median(times["stack"])
    print(f"   import boto3 alone: {boto3_ms:.1f} ms; with pydantic, Powertools and X-Ray: {stack_ms:.1f} ms")
    for kind, floor in floors.items():
        print(
            f"   {kind} floor (the stack, Powertools' parser{', its resolver' if kind == 'api' else ''}): "
            f"{floor:.1f} ms, {floor / boto3_ms:.2f} x"
        )
    over = sorted(name for name, f in functions.items() if f["importMs"] > LIMIT * boto3_ms)
    return {
        "command": "make bench RECORD=1 ONLY=cold_start  (python -m bench --record cold_start)",
        "setup": f"median of {REPEATS} fresh interpreters, interleaved, each as Lambda runs it: Python "
        f"{_version(python)}, boto3 {_boto3_version()} as the runtime's (compiled), the layers built by their "
        f"Makefiles for {host_platform}, the code as `sam build` copies it, tracing {tracing}, no bytecode "
        "written (read-only file system); layer sizes as deployed (python3.13 arm64, unzipped and zipped)",
        "importBoto3Ms": round(boto3_ms, 1),
        "stackMs": round(stack_ms, 1),
        "stack": "boto3, pydantic's BaseModel, Powertools' Logger and a Tracer patching botocore (X-Ray SDK)",
        "floorsMs": {kind: round(floor, 1) for kind, floor in floors.items()},
        "floors": "task: the stack and Powertools' parser; api: also its APIGatewayHttpResolver with validation",
        "limitRatio": LIMIT,
        "functions": functions,
        "overLimit": over,
        "failures": [f"cold start: {name} imports in more than {LIMIT} x `import boto3`" for name in over],
        "layers": layers,
    }


def _lambda_python() -> str:
    """A python3.13, the runtime's version (bytecode and import costs are per version)."""
    candidates = [os.environ.get("LAMBDA_PYTHON", ""), shutil.which("python3.13") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")), reverse=True)
    check = "import sys; assert sys.version_info[:2] == (3, 13)"
    for candidate in filter(None, candidates):  # a pyenv shim on PATH may not run
        if subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    raise SystemExit("cold_start needs python3.13 (the runtime's): set LAMBDA_PYTHON")


def _runtime(folder: Path, base_python: str) -> str:
    """A python3.13 with boto3 as the runtime brings it (the version the tests run with)."""
    subprocess.run([base_python, "-m", "venv", str(folder)], check=True)
    python = str(folder / "bin" / "python")
    _pip(python, "install", "--quiet", f"boto3=={_boto3_version()}")
    return python


def _build_layer(source: Path, logical_id: str, artifacts: Path, python: str, platform_tag: str | None) -> Path:
    """The layer as its Makefile builds it for `sam build` (for AWS's platform when None)."""
    artifacts.mkdir(parents=True)
    args = [
        "make",
        "--quiet",
        "-C",
        str(source),
        f"build-{logical_id}",
        f"ARTIFACTS_DIR={artifacts}",
        f"PYTHON={python}",
    ]
    if platform_tag:
        args.append(f"PLATFORM={platform_tag}")
    subprocess.run(args, check=True, capture_output=True)
    return artifacts


def _pip(python: str, *args: str) -> None:
    subprocess.run([python, "-m", "pip", "--disable-pip-version-check", *args], check=True, capture_output=True)


def _globals(template: Template) -> dict[str, Any]:
    globals_: dict[str, Any] = template.doc.get("Globals", {}).get("Function", {})
    return globals_


def _layers_of(template: Template, logical_id: str) -> list[str]:
    """The function's layers, in order (the Globals' first, as SAM merges them)."""
    refs = _globals(template).get("Layers", []) + template.resources[logical_id]["Properties"].get("Layers", [])
    return [ref["Ref"] for ref in refs]


def _ms(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, cwd=cwd)
    return float(out.stdout.strip().splitlines()[-1])


def _version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    )
    return out.stdout.strip()


def _boto3_version() -> str:
    return importlib.metadata.version("boto3")


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _layer_size(artifacts: Path) -> dict[str, Any]:
    """Everything the layer ships, bytecode included, unzipped and as a zip."""
    files = [p for p in artifacts.rglob("*") if p.is_file()]
    archive = artifacts.parent / f"{artifacts.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, path.relative_to(artifacts))
    return {"unzippedBytes": sum(p.stat().st_size for p in files), "zippedBytes": archive.stat().st_size}
