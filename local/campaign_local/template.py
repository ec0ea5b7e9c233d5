"""Reads template.yaml, the one description of the application, for the local engine and
the tests: routes, functions and their environment, tables, the state machine."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "campaign-calling-local"
# How a template writes an HTTP API's URL (its Outputs and the webhook base URL parameter);
# locally it is the local API's URL.
HTTP_API_URL = "https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub ...) as plain dicts."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: _construct_tag(loader, suffix, node))


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway form, e.g. /api/v1/client/campaigns/{id}/start-calling
    function: str  # logical id
    authorizer: str | None = None  # name of the HttpApi authorizer, None when open
    # How long API Gateway waits for the integration (HTTP APIs: 30 s unless TimeoutInMillis says less).
    integration_timeout_ms: int = 30_000

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str  # module.function
    timeout_seconds: int
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def handler_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    properties: dict[str, Any]

    @property
    def ttl_attribute(self) -> str | None:
        ttl = self.properties.get("TimeToLiveSpecification") or {}
        return ttl.get("AttributeName") if ttl.get("Enabled") else None


class Template:
    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.root = self.path.parent
        self.doc: dict[str, Any] = yaml.load(self.path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
        self.resources: dict[str, dict[str, Any]] = self.doc["Resources"]
        self.parameters: dict[str, dict[str, Any]] = self.doc.get("Parameters", {})
        self._globals = self.doc.get("Globals", {}).get("Function", {})

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def functions(self) -> dict[str, FunctionSpec]:
        specs = {}
        for logical_id, resource in self.of_type("AWS::Serverless::Function").items():
            props = resource["Properties"]
            env = dict(self._globals.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                code_dir=self.root / props["CodeUri"],
                handler=props.get("Handler", self._globals.get("Handler")),
                timeout_seconds=int(props.get("Timeout", self._globals.get("Timeout", 3))),
                environment=env,
            )
        return specs

    def routes(self) -> list[Route]:
        """Every HttpApi route with the authorizer that guards it (the API's default
        unless the route says otherwise; ``NONE`` opens it)."""
        routes = []
        for logical_id, resource in self.of_type("AWS::Serverless::Function").items():
            for event in resource["Properties"].get("Events", {}).values():
                if event["Type"] != "HttpApi":
                    continue
                props = event["Properties"]
                api = props.get("ApiId", {}).get("Ref") if isinstance(props.get("ApiId"), dict) else None
                default = self.http_api_auth(api).get("DefaultAuthorizer") if api else None
                authorizer = props.get("Auth", {}).get("Authorizer", default)
                routes.append(
                    Route(
                        props["Method"].upper(),
                        props["Path"],
                        logical_id,
                        None if authorizer == "NONE" else authorizer,
                        int(props.get("TimeoutInMillis", 30_000)),
                    )
                )
        return routes

    def http_api_auth(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id]["Properties"].get("Auth", {})

    def http_api_cors(self, logical_id: str) -> Any:
        """The HttpApi's CorsConfiguration, unresolved (the API's own, else the Globals'),
        None when it has none."""
        props = self.resources[logical_id].get("Properties", {})
        return props.get("CorsConfiguration", self.doc.get("Globals", {}).get("HttpApi", {}).get("CorsConfiguration"))

    def tables(self) -> dict[str, TableSpec]:
        return {k: TableSpec(k, v["Properties"]) for k, v in self.of_type("AWS::DynamoDB::Table").items()}

    def state_machines(self) -> dict[str, dict[str, Any]]:
        return {k: v["Properties"] for k, v in self.of_type("AWS::Serverless::StateMachine").items()}

    def secrets(self) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties", {}) for k, v in self.of_type("AWS::SecretsManager::Secret").items()}

    def ssm_parameters(self) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties", {}) for k, v in self.of_type("AWS::SSM::Parameter").items()}


class Resolver:
    """Resolves intrinsic functions to the local engine's names and ARNs."""

    def __init__(
        self,
        template: Template,
        *,
        parameters: dict[str, str],
        physical_ids: dict[str, str],
        api_urls: dict[str, str] | None = None,
    ) -> None:
        self._template = template
        self._parameters = parameters
        self._physical = physical_ids
        # The local URL of each HttpApi (logical id), once it is served.
        self._api_urls = api_urls or {}

    def with_api_urls(self, api_urls: dict[str, str]) -> Resolver:
        return Resolver(self._template, parameters=self._parameters, physical_ids=self._physical, api_urls=api_urls)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                return self.sub(arg)
            if key == "Fn::If":
                name, if_true, if_false = arg
                return self.resolve(if_true if self.condition({"Condition": name}) else if_false)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self._template.parameters:
            if name in self._parameters:
                value = self._parameters[name]
            else:
                default = self._template.parameters[name].get("Default")
                if default is None:
                    raise KeyError(f"parameter {name} has no default and no local value")
                value = str(default)
            if self._template.parameters[name].get("Type") == "CommaDelimitedList":
                # CloudFormation hands a CommaDelimitedList's Ref over as a list of strings.
                return [item.strip() for item in value.split(",")] if isinstance(value, str) else list(value)
            return value
        if name in self._physical:
            return self._physical[name]
        resource = self._template.resources[name]
        if resource["Type"] == "AWS::Serverless::Function":
            return name
        if resource["Type"] == "AWS::Serverless::StateMachine":
            return state_machine_arn(self.state_machine_name(name))
        raise KeyError(f"no local value for Ref {name}")

    def get_att(self, name: str, attribute: str) -> str:
        resource = self._template.resources[name]
        if resource["Type"] == "AWS::Serverless::Function" and attribute == "Arn":
            return function_arn(name)
        if resource["Type"] == "AWS::Serverless::StateMachine" and attribute == "Name":
            return self.state_machine_name(name)
        raise KeyError(f"no local value for GetAtt {name}.{attribute}")

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        for api, url in self._api_urls.items():
            if text == HTTP_API_URL.format(api=api):
                return url

        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key in variables:
                return str(self.resolve(variables[key]))
            if "." in key:
                return self.get_att(*key.split(".", 1))
            value = self.ref(key)
            if not isinstance(value, str):
                raise ValueError(f"Fn::Sub cannot take ${{{key}}}: it is a list")
            return value

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def condition(self, value: Any) -> bool:
        """A condition function (Equals, Not, And, Or, Condition; Contains in Rules) as
        Conditions and Rules use them."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                (inner,) = arg
                return not self.condition(inner)
            if key == "Fn::And":
                return all(self.condition(v) for v in arg)
            if key == "Fn::Or":
                return any(self.condition(v) for v in arg)
            if key == "Condition":
                return self.condition(self._template.doc["Conditions"][arg])
            if key == "Fn::Contains":
                values, wanted = arg
                return str(self.resolve(wanted)) in [str(self.resolve(v)) for v in values]
        raise ValueError(f"not a condition function: {value!r}")

    def check_rules(self) -> None:
        """Refuse parameter values the template's Rules refuse, as CloudFormation does
        before it creates anything."""
        for name, rule in self._template.doc.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.condition(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.condition(assertion["Assert"]):
                    raise ValueError(f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}")

    def state_machine_name(self, logical_id: str) -> str:
        name = self._template.resources[logical_id]["Properties"].get("Name")
        return self.resolve(name) if name else logical_id

    def state_machine_definition(self, logical_id: str, *, fast_retries: bool = False) -> str:
        """The ASL file with its substitutions; ``fast_retries`` (LOCAL_RETRY_INTERVALS=fast)
        makes every Retry wait 1 s between attempts, so that tests can use up retries."""
        props = self._template.resources[logical_id]["Properties"]
        text = (self._template.root / props["DefinitionUri"]).read_text()
        substitutions = {k: str(self.resolve(v)) for k, v in props.get("DefinitionSubstitutions", {}).items()}
        text = re.sub(r"\$\{(\w+)\}", lambda m: substitutions[m.group(1)], text)
        definition = json.loads(text)  # fail here, not inside the engine, on a broken definition
        return json.dumps(shorten_retry_intervals(definition), indent=2) if fast_retries else text


def shorten_retry_intervals(node: Any) -> Any:
    """Every Retrier of a definition with IntervalSeconds 1 and BackoffRate 1; attempts,
    errors, MaxDelaySeconds and jitter stay as written (only the waiting gets shorter)."""
    if isinstance(node, list):
        return [shorten_retry_intervals(item) for item in node]
    if not isinstance(node, dict):
        return node
    shortened = {key: shorten_retry_intervals(value) for key, value in node.items()}
    if isinstance(node.get("Retry"), list):
        shortened["Retry"] = [
            {**retrier, "IntervalSeconds": 1, "BackoffRate": 1.0} if isinstance(retrier, dict) else retrier
            for retrier in shortened["Retry"]
        ]
    return shortened


def function_arn(logical_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{logical_id}"


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"


def find_template(start: Path | None = None) -> Path:
    """template.yaml of the project this package belongs to (or from the working dir)."""
    for base in [start or Path.cwd(), Path(__file__).resolve()]:
        for folder in [base, *base.parents]:
            candidate = folder / "template.yaml"
            if candidate.is_file() and (folder / "statemachine").is_dir():
                return candidate
    raise FileNotFoundError("template.yaml not found; run from the project folder")
