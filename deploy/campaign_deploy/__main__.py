"""python -m campaign_deploy: put the web console in a deployed stack (make console-deploy), or
print a config.json for any other static host.

    python -m campaign_deploy console --stack NAME [--region REGION] [--dry-run]
    python -m campaign_deploy config --api-url URL [--cognito-domain URL --client-id ID --redirect-uri URL]

Everything this decides is in ``campaign_deploy.console``; the AWS calls here stay thin."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from campaign_deploy.console import (
    ConsoleDeployError,
    ConsoleTarget,
    Upload,
    config_from_outputs,
    console_config,
    console_target,
    json_text,
    stale_keys,
    upload_plan,
)

ROOT = Path(__file__).resolve().parents[2]


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def publish(plan: Sequence[Upload], target: ConsoleTarget, *, s3: Any, cloudfront: Any) -> list[str]:
    """Upload the plan in its order, delete what it no longer has, invalidate every path (the
    files keep their names from one version to the next). Returns the keys deleted."""
    for upload in plan:
        s3.put_object(
            Bucket=target.bucket,
            Key=upload.key,
            Body=upload.body,
            ContentType=upload.content_type,
            CacheControl=upload.cache_control,
        )
    existing = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target.bucket)
        for item in page.get("Contents", [])
    ]
    stale = stale_keys(existing, plan)
    for start in range(0, len(stale), 1000):  # DeleteObjects takes 1,000 keys at most
        s3.delete_objects(
            Bucket=target.bucket,
            Delete={"Objects": [{"Key": key} for key in stale[start : start + 1000]], "Quiet": True},
        )
    cloudfront.create_invalidation(
        DistributionId=target.distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())},
    )
    return stale


def deploy_console(args: argparse.Namespace) -> int:
    import boto3  # only this command needs AWS

    session = boto3.Session(region_name=args.region)
    outputs = stack_outputs(session.client("cloudformation"), args.stack)
    target = console_target(outputs)
    config = config_from_outputs(outputs)
    plan = upload_plan(args.console_dir, config)
    print(json_text(config))
    for upload in plan:
        print(f"{upload.key}  {upload.content_type}  {upload.cache_control}")
    if args.dry_run:
        return 0
    deleted = publish(plan, target, s3=session.client("s3"), cloudfront=session.client("cloudfront"))
    print(
        f"uploaded {len(plan)} files to s3://{target.bucket}, deleted {len(deleted)}, invalidated {target.distribution_id}"
    )
    print(f"the console: {target.url}")
    return 0


def print_config(args: argparse.Namespace) -> int:
    config = console_config(
        args.api_url, cognito_domain=args.cognito_domain, client_id=args.client_id, redirect_uri=args.redirect_uri
    )
    print(json_text(config))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m campaign_deploy", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    console = commands.add_parser("console", help="upload console/ to a stack deployed with DeployConsole=true")
    console.add_argument("--stack", required=True, help="the stack's name")
    console.add_argument("--region", default=None, help="its region (default: the AWS CLI's configuration)")
    console.add_argument("--console-dir", type=Path, default=ROOT / "console", help="the console's folder")
    console.add_argument("--dry-run", action="store_true", help="print config.json and the files, upload nothing")
    console.set_defaults(run=deploy_console)
    config = commands.add_parser("config", help="print a config.json for the console on any static host")
    config.add_argument("--api-url", required=True, help="the API's URL (the stack's ApiUrl output)")
    config.add_argument("--cognito-domain", help="https://<prefix>.auth.<region>.amazoncognito.com (else: token)")
    config.add_argument("--client-id", help="the app client of Cognito's hosted sign-in")
    config.add_argument("--redirect-uri", help="the console's URL, one of the app client's callback URLs")
    config.set_defaults(run=print_config)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ConsoleDeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
