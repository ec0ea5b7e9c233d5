"""The web console in the stack's bucket: its config.json from the stack's outputs, and which
file goes up under which key with which Content-Type and Cache-Control. Pure: the AWS calls are
in ``campaign_deploy.__main__``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The console calls the client API under this path of the HTTP API (the ApiUrl output).
API_PATH = "/api/v1/client"
CONFIG_KEY = "config.json"
INDEX_KEY = "index.html"

# Named, not guessed: with X-Content-Type-Options: nosniff a module served under another type
# does not run, and Python's mimetypes answers differently from one machine to the next.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
# index.html and config.json: the browser and CloudFront ask again every time (a 304 while
# unchanged), so a new deploy or a new configuration shows at the next load.
REVALIDATE = "no-cache"
# The other files keep their names from one version to the next (no build step, no hashes in
# the names): a short cache, so that a new index.html soon meets its own modules.
SHORT_CACHE = "public, max-age=300"


class ConsoleDeployError(Exception):
    """What stops a deploy before anything is uploaded; the message says what to do."""


@dataclass(frozen=True)
class Upload:
    key: str
    content_type: str
    cache_control: str
    body: bytes


def console_config(
    api_url: str,
    *,
    cognito_domain: str | None = None,
    client_id: str | None = None,
    redirect_uri: str | None = None,
) -> dict[str, Any]:
    """config.json: the API's base URL, and Cognito's hosted sign-in when a domain is given
    (then the app client and the console's URL are needed too), else a pasted token."""
    if not api_url.startswith("https://"):
        raise ConsoleDeployError(f"the API's URL must be https://..., not {api_url!r}")
    config: dict[str, Any] = {"apiBaseUrl": api_url.rstrip("/") + API_PATH}
    if not cognito_domain:
        config["signIn"] = {"mode": "token"}
        return config
    missing = [name for name, value in (("client id", client_id), ("redirect URI", redirect_uri)) if not value]
    if missing:
        raise ConsoleDeployError(f"Cognito sign-in needs the app client's {' and '.join(missing)} too")
    config["signIn"] = {
        "mode": "cognito",
        "cognito": {"domain": cognito_domain.rstrip("/"), "clientId": client_id, "redirectUri": redirect_uri},
    }
    return config


def config_from_outputs(outputs: Mapping[str, str]) -> dict[str, Any]:
    """config.json for a stack, from its outputs (ApiUrl; CognitoDomain, UserPoolClientId and
    ConsoleUrl when the stack made the user pool)."""
    if "ApiUrl" not in outputs:
        raise ConsoleDeployError("the stack has no ApiUrl output: is it this application's stack?")
    return console_config(
        outputs["ApiUrl"],
        cognito_domain=outputs.get("CognitoDomain"),
        client_id=outputs.get("UserPoolClientId"),
        redirect_uri=outputs.get("ConsoleUrl"),
    )


@dataclass(frozen=True)
class ConsoleTarget:
    bucket: str
    distribution_id: str
    url: str


def console_target(outputs: Mapping[str, str]) -> ConsoleTarget:
    names = ("ConsoleBucketName", "ConsoleDistributionId", "ConsoleUrl")
    if any(name not in outputs for name in names):
        raise ConsoleDeployError(
            "the stack has no console: deploy it with --parameter-overrides DeployConsole=true first"
        )
    return ConsoleTarget(*(outputs[name] for name in names))


def upload_plan(console_dir: Path, config: Mapping[str, Any]) -> list[Upload]:
    """Every file of the console folder (hidden files left out) and the generated config.json,
    in the order to upload them: the assets, then config.json, then index.html, so that a
    visitor never gets a page whose files are not there yet. A config.json in the folder (the
    local engine's) is replaced by the stack's."""
    if not (console_dir / INDEX_KEY).is_file():
        raise ConsoleDeployError(f"{console_dir} has no {INDEX_KEY}")
    files = sorted(
        path
        for path in console_dir.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(console_dir).parts)
    )
    unknown = [str(path.relative_to(console_dir)) for path in files if path.suffix.lower() not in CONTENT_TYPES]
    if unknown:
        raise ConsoleDeployError(f"no content type known for {', '.join(unknown)} (campaign_deploy.console)")
    uploads = [
        Upload(key, CONTENT_TYPES[path.suffix.lower()], SHORT_CACHE, path.read_bytes())
        for path in files
        if (key := path.relative_to(console_dir).as_posix()) not in (CONFIG_KEY, INDEX_KEY)
    ]
    body = (json_text(config) + "\n").encode()
    uploads.append(Upload(CONFIG_KEY, CONTENT_TYPES[".json"], REVALIDATE, body))
    uploads.append(Upload(INDEX_KEY, CONTENT_TYPES[".html"], REVALIDATE, (console_dir / INDEX_KEY).read_bytes()))
    return uploads


def stale_keys(existing: Iterable[str], plan: Iterable[Upload]) -> list[str]:
    """The bucket's keys no upload of the plan writes: removed, as ``aws s3 sync --delete`` would."""
    planned = {upload.key for upload in plan}
    return sorted(set(existing) - planned)


def json_text(config: Mapping[str, Any]) -> str:
    return json.dumps(config, indent=2, sort_keys=True)
