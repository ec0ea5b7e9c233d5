"""template.yaml against the code, the state machine, the API contract and the sample events.

Everything is read through ``campaign_local.template.Template``: no function, table or
route name of the template is copied here, except the API contract's routes and the
functions named by the known bugs below.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from campaign_calling import keys
from campaign_calling.calls.providers.credentials import client_provider_secret_name
from campaign_calling.runs.models import RunContext
from campaign_calling.runs.repository import TTL_ATTRIBUTE
from campaign_calling.settings import (
    TUNABLES,
    ClientAccountSettings,
    DialerSettings,
    Piece,
    TableNames,
    WebhookSettings,
    variable_names,
)
from campaign_local.http_api import http_api_event
from campaign_local.lambdas import load_handler_module
from campaign_local.template import (
    ACCOUNT_ID,
    HTTP_API_URL,
    REGION,
    FunctionSpec,
    Resolver,
    Template,
    find_template,
    state_machine_arn,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Template(find_template(ROOT))
FUNCTIONS = TEMPLATE.functions()
ROUTES = TEMPLATE.routes()
EVENT_FILES = sorted((ROOT / "events").glob("*.json"))

CONTRACT_ROUTES = {
    ("POST", "/api/v1/client/campaigns/{id}/start-calling"),
    ("POST", "/api/v1/client/campaigns/{id}/stop-calling"),
    ("POST", "/api/v1/client/campaigns/{id}/pause-calling"),
    ("POST", "/api/v1/client/campaigns/{id}/resume-calling"),
    ("GET", "/api/v1/client/campaigns/{id}/calling-status"),
    ("POST", "/api/v1/client/campaigns/{id}/make-call"),
    ("POST", "/api/v1/client/agents"),
    ("GET", "/api/v1/client/agents/{id}"),
    ("GET", "/api/v1/client/agents"),
    ("PATCH", "/api/v1/client/agents/{id}"),
    ("DELETE", "/api/v1/client/agents/{id}"),
    ("PUT", "/api/v1/client/providers/{provider}"),
    ("GET", "/api/v1/client/settings"),
    ("PUT", "/api/v1/client/settings"),
    ("POST", "/api/v1/client/dnc"),
    ("GET", "/api/v1/client/dnc"),
    ("GET", "/api/v1/client/dnc/{phone}"),
    ("DELETE", "/api/v1/client/dnc/{phone}"),
    ("POST", "/api/v1/client/campaigns"),
    ("GET", "/api/v1/client/campaigns/{id}"),
    ("GET", "/api/v1/client/campaigns"),
    ("PATCH", "/api/v1/client/campaigns/{id}"),
    ("DELETE", "/api/v1/client/campaigns/{id}"),
    ("POST", "/api/v1/client/campaigns/{id}/contacts"),
    ("GET", "/api/v1/client/campaigns/{id}/contacts"),
    ("PATCH", "/api/v1/client/campaigns/{id}/contacts/{contactId}"),
    ("DELETE", "/api/v1/client/campaigns/{id}/contacts/{contactId}"),
    ("GET", "/api/v1/client/campaigns/{id}/call-logs"),
    ("GET", "/api/v1/client/campaigns/{id}/call-logs.csv"),
    ("POST", "/api/v1/client/campaigns/{id}/contacts.csv"),
    ("GET", "/api/v1/client/campaigns/{id}/runs"),
    ("GET", "/api/v1/client/campaigns/{id}/runs/{runId}"),
    ("POST", "/api/v1/webhooks/{provider}"),
}
# The one route without the JWT authorizer: the providers' status webhooks, signed by them.
OPEN_ROUTE = "POST /api/v1/webhooks/{provider}"
LAMBDA_RETRY_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
SECRET_VARIABLE = DialerSettings.model_fields["dialer_api_key_secret"].alias
PREFIX_VARIABLE = ClientAccountSettings.model_fields["client_secret_prefix"].alias
WEBHOOK_VARIABLE = WebhookSettings.model_fields["webhook_base_url_parameter"].alias


def resources_with_policies() -> dict[str, dict[str, Any]]:
    kinds = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
    return {k: v["Properties"] for k, v in TEMPLATE.resources.items() if v["Type"] in kinds}


def policies_of(logical_id: str) -> list[Any]:
    policies = resources_with_policies()[logical_id].get("Policies", [])
    return policies if isinstance(policies, list) else [policies]


def statements(policy: Any) -> list[dict[str, Any]]:
    if isinstance(policy, dict) and "Statement" in policy:
        found = policy["Statement"]
        return found if isinstance(found, list) else [found]
    return []


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_globals(key: str) -> Any:
    return TEMPLATE.doc.get("Globals", {}).get("Function", {}).get(key)


def function_property(logical_id: str, key: str) -> Any:
    return TEMPLATE.resources[logical_id]["Properties"].get(key, function_globals(key))


def local_resolver() -> Resolver:
    return Resolver(TEMPLATE, parameters={"DialerBaseUrl": "http://dialer.invalid"}, physical_ids={})


# -- the state machine -------------------------------------------------------------------


def state_machine() -> tuple[str, dict[str, Any]]:
    ((logical_id, props),) = TEMPLATE.state_machines().items()
    return logical_id, props


def asl_text() -> str:
    return (TEMPLATE.root / state_machine()[1]["DefinitionUri"]).read_text()


def all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, including those inside Map and Parallel states."""
    found = {}
    for name, state in definition["States"].items():
        found[name] = state
        for inner in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if inner:
                found.update(all_states(inner))
    return found


def lambda_tasks() -> dict[str, dict[str, Any]]:
    states = all_states(json.loads(asl_text()))
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def function_of_task(state: dict[str, Any]) -> str:
    """The logical id of the function a task invokes, through DefinitionSubstitutions."""
    (placeholder,) = re.fullmatch(r"\$\{(\w+)\}", state["Parameters"]["FunctionName"]).groups()
    target = state_machine()[1]["DefinitionSubstitutions"][placeholder]
    assert target == {"Fn::GetAtt": [target["Fn::GetAtt"][0], "Arn"]}, target
    return target["Fn::GetAtt"][0]


# -- routes ------------------------------------------------------------------------------


def test_routes_are_the_contract() -> None:
    keys = [(r.method, r.path) for r in ROUTES]
    assert len(keys) == len(set(keys)), "a route is served twice"
    assert set(keys) == CONTRACT_ROUTES


@cache
def handler_module(logical_id: str) -> Any:
    return load_handler_module(FUNCTIONS[logical_id])


def resolver_of(logical_id: str) -> APIGatewayHttpResolver:
    module = handler_module(logical_id)
    (app,) = [v for v in vars(module).values() if isinstance(v, APIGatewayHttpResolver)]
    return app


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_file_exists_and_defines_the_handler(logical_id: str) -> None:
    spec: FunctionSpec = FUNCTIONS[logical_id]
    assert spec.handler_file.is_file(), spec.handler_file
    assert callable(getattr(handler_module(logical_id), spec.handler_name, None))


@pytest.mark.parametrize("logical_id", sorted({r.function for r in ROUTES}))
def test_resolver_serves_exactly_the_functions_routes(logical_id: str) -> None:
    app = resolver_of(logical_id)
    served = {(r.method, r.openapi_path) for r in [*app._static_routes, *app._dynamic_routes]}
    assert served == {(r.method, r.path) for r in ROUTES if r.function == logical_id}


def test_every_route_reaches_its_handler(aws: Any) -> None:
    """A minimal event for each route is answered by a route handler, not 'route not found'."""
    unrouted = []
    for route in ROUTES:
        params = dict.fromkeys(re.findall(r"\{(\w+)\}", route.path), "x")
        path = route.path.format(**params)
        request = Request(
            EnvironBuilder(method=route.method, path=path, json={} if route.method == "POST" else None).get_environ()
        )
        result = aws.invoke(route.function, http_api_event(request, route, params, claims=None))
        if json.loads(result["body"]).get("message") == "route not found":
            unrouted.append(route.route_key)
    assert unrouted == []


EVENTBRIDGE_EVENT_TYPES = {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2"}


def eventbridge_functions() -> set[str]:
    """Functions EventBridge invokes: on an event pattern (execution ends) or a schedule."""
    return {
        logical_id
        for logical_id, resource in TEMPLATE.of_type("AWS::Serverless::Function").items()
        if any(e["Type"] in EVENTBRIDGE_EVENT_TYPES for e in resource["Properties"].get("Events", {}).values())
    }


def test_functions_without_routes_are_the_state_machines_tasks_or_eventbridge_targets() -> None:
    task_functions = {function_of_task(state) for state in lambda_tasks().values()}
    routed = {r.function for r in ROUTES}
    evented = eventbridge_functions()
    assert task_functions.isdisjoint(routed)
    assert evented.isdisjoint(task_functions | routed)
    assert task_functions | routed | evented == set(FUNCTIONS)


# -- runtime and permissions ---------------------------------------------------------------


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_python313_on_arm64(logical_id: str) -> None:
    assert function_property(logical_id, "Runtime") == "python3.13"
    assert function_property(logical_id, "Architectures") == ["arm64"]


def test_layers_match_the_runtime() -> None:
    layers = TEMPLATE.of_type("AWS::Serverless::LayerVersion")
    assert layers
    for props in (layer["Properties"] for layer in layers.values()):
        assert "python3.13" in props["CompatibleRuntimes"]
        assert props["CompatibleArchitectures"] == ["arm64"]


# Step Functions' logging to CloudWatch Logs, as AWS documents it: these actions take no
# resource ARN, so they can only be granted on "*".
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def test_no_broad_policies() -> None:
    problems = []
    for logical_id in resources_with_policies():
        for policy in policies_of(logical_id):
            names = [policy] if isinstance(policy, str) else [k for k in policy if k != "Statement"]
            problems += [f"{logical_id}: {n}" for n in names if str(n).endswith("FullAccess")]
            for statement in statements(policy):
                every_resource = "*" in as_list(statement.get("Resource"))
                if every_resource and set(as_list(statement["Action"])) <= LOG_DELIVERY_ACTIONS:
                    continue
                if "*" in as_list(statement.get("Action")) or every_resource:
                    problems.append(f"{logical_id}: {statement}")
                if any(str(a).endswith(":*") for a in as_list(statement.get("Action"))):
                    problems.append(f"{logical_id}: every action of a service: {statement}")
        managed = resources_with_policies()[logical_id].get("ManagedPolicyArns", [])
        problems += [f"{logical_id}: {arn}" for arn in managed if str(arn).endswith("FullAccess")]
    assert problems == []


def test_state_machine_may_invoke_exactly_its_task_functions() -> None:
    invoked = {function_of_task(state) for state in lambda_tasks().values()}
    allowed = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in policies_of(state_machine()[0])
        if isinstance(policy, dict) and "LambdaInvokePolicy" in policy
    }
    assert allowed == invoked


def test_step_functions_permissions_name_this_state_machine() -> None:
    resolver = local_resolver()
    name = resolver.state_machine_name(state_machine()[0])
    execution_prefix = state_machine_arn(name).replace(":stateMachine:", ":execution:") + ":"
    checked = 0
    for logical_id in FUNCTIONS:
        for policy in policies_of(logical_id):
            if isinstance(policy, dict) and "StepFunctionsExecutionPolicy" in policy:
                assert resolver.resolve(policy["StepFunctionsExecutionPolicy"]["StateMachineName"]) == name
                checked += 1
            for statement in statements(policy):
                if any(str(a).startswith("states:") for a in as_list(statement["Action"])):
                    for resource in as_list(statement["Resource"]):
                        assert resolver.resolve(resource).startswith(execution_prefix), (logical_id, resource)
                        checked += 1
    assert checked >= 3  # start, stop and the hand-over to a new execution


# -- the state machine's definition ---------------------------------------------------------


def test_asl_placeholders_are_the_definition_substitutions() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", asl_text()))
    assert placeholders == set(state_machine()[1]["DefinitionSubstitutions"])


def test_asl_is_valid_json_once_substituted() -> None:
    json.loads(local_resolver().state_machine_definition(state_machine()[0]))


@pytest.mark.parametrize("state_name", sorted(lambda_tasks()))
def test_lambda_task_is_an_sdk_invoke_with_lambda_retries(state_name: str) -> None:
    state = lambda_tasks()[state_name]
    assert state["Resource"] == "arn:${Partition}:states:::lambda:invoke"
    assert "FunctionName" in state["Parameters"]
    assert function_of_task(state) in FUNCTIONS
    retried = [set(r["ErrorEquals"]) for r in state.get("Retry", [])]
    assert any(LAMBDA_RETRY_ERRORS <= errors for errors in retried), state.get("Retry")


@pytest.mark.parametrize("state_name", sorted(lambda_tasks()))
def test_every_task_retries_a_failure_of_its_function(state_name: str) -> None:
    """Every step is idempotent (claims, conditional writes, named executions), so one
    transient error (a DynamoDB hiccup) is retried rather than failing the run."""
    retriers = lambda_tasks()[state_name]["Retry"]
    (task_failed,) = [r for r in retriers if r["ErrorEquals"] == ["States.TaskFailed"]]
    assert task_failed["MaxAttempts"] >= 2
    assert retriers[-1] is task_failed  # after the Lambda service errors, which retry longer


def test_asl_arns_use_the_partition() -> None:
    assert "arn:aws:" not in asl_text()
    assert state_machine()[1]["DefinitionSubstitutions"]["Partition"] == {"Ref": "AWS::Partition"}
    assert '"arn:aws:states:::lambda:invoke"' in local_resolver().state_machine_definition(state_machine()[0])


# -- environment -----------------------------------------------------------------------------


def settings_class(logical_id: str) -> type[Piece]:
    """The settings class a function's handler validates on its first invocation."""
    declared = load_handler_module(FUNCTIONS[logical_id]).Settings
    assert issubclass(declared, Piece)
    return declared


def template_variables(logical_id: str) -> tuple[set[str], set[str]]:
    """The variables template.yaml gives a function: its own, and those of the Globals
    (Powertools' own variables are Powertools' business)."""
    own = set(TEMPLATE.resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {}))
    shared = {name for name in function_globals("Environment")["Variables"] if not name.startswith("POWERTOOLS_")}
    return own, shared


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_settings_are_the_variables_the_template_gives_it(logical_id: str) -> None:
    # Given what the function's settings class declares and what template.yaml gives it
    settings = settings_class(logical_id)
    declared = variable_names(settings)
    own, shared = template_variables(logical_id)
    # Then it declares exactly the variables of its own, beside shared ones (the Globals
    # give them to every function) and tunables the template leaves at their defaults
    assert declared - shared - TUNABLES == own
    tunables = [f for f in settings.model_fields.values() if f.alias in TUNABLES]
    assert not any(field.is_required() for field in tunables)


def secret_grants(logical_id: str) -> dict[str, set[str]]:
    """What a function may do with secrets: per resource (as written), the actions."""
    grants: dict[str, set[str]] = {}
    for policy in policies_of(logical_id):
        if isinstance(policy, dict) and "AWSSecretsManagerGetSecretValuePolicy" in policy:
            arn = policy["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
            grants.setdefault(json.dumps(arn, sort_keys=True), set()).add("secretsmanager:GetSecretValue")
        for statement in statements(policy):
            actions = {str(a) for a in as_list(statement["Action"]) if str(a).startswith("secretsmanager:")}
            for resource in as_list(statement["Resource"]) if actions else []:
                grants.setdefault(json.dumps(resource, sort_keys=True), set()).update(actions)
    return grants


def client_secrets_arn(prefix: dict[str, str]) -> dict[str, str]:
    """The ARN pattern of the clients' secrets under a prefix (a Fn::Sub of the stack name)."""
    arn = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    return {"Fn::Sub": arn + prefix["Fn::Sub"] + "/*"}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_a_function_may_do_with_provider_secrets_exactly_what_its_environment_needs(logical_id: str) -> None:
    # Given what the function is told of the secrets
    env = FUNCTIONS[logical_id].environment
    expected: dict[str, set[str]] = {}
    # Then the deployment's secret only by the function told its name, to read it
    if SECRET_VARIABLE in env:
        assert env[SECRET_VARIABLE]["Ref"] in TEMPLATE.secrets()
        expected[json.dumps(env[SECRET_VARIABLE], sort_keys=True)] = {"secretsmanager:GetSecretValue"}
    # and the clients' own secrets only under this stack's prefix: read where calls are made or
    # agents checked (those also read the deployment's), created and written, never read, by
    # the function that connects accounts
    if PREFIX_VARIABLE in env:
        assert env[PREFIX_VARIABLE] == {"Fn::Sub": "${AWS::StackName}/provider-accounts"}
        actions = (
            {"secretsmanager:GetSecretValue"}
            if SECRET_VARIABLE in env
            else {"secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"}
        )
        expected[json.dumps(client_secrets_arn(env[PREFIX_VARIABLE]), sort_keys=True)] = actions
    assert secret_grants(logical_id) == expected


def test_the_clients_secrets_arn_matches_every_name_the_code_gives_and_no_other_stack() -> None:
    resolver = local_resolver()
    (prefix,) = {
        json.dumps(spec.environment[PREFIX_VARIABLE])
        for spec in FUNCTIONS.values()
        if PREFIX_VARIABLE in spec.environment
    }
    prefix_value = resolver.resolve(json.loads(prefix))
    pattern = resolver.resolve(client_secrets_arn(json.loads(prefix)))
    matches = re.compile(".*".join(re.escape(part) for part in pattern.split("*"))).fullmatch
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:"
    for client in ("acme", "client with spaces/and#slashes", "x" * 128):
        assert matches(arn + client_provider_secret_name(prefix_value, client, "twilio") + "-AbC123")
    assert not matches(arn + client_provider_secret_name("other-stack/provider-accounts", "acme", "twilio") + "-AbC123")


# -- the webhook base URL: no dependency cycle ---------------------------------------------------


def references(value: Any) -> set[str]:
    """Logical ids (and parameters, pseudo parameters) a value refers to: Ref, GetAtt, Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref":
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else str(arg).split(".")[0])
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
                found |= references(variables)
            else:
                found |= references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def dependency_graph(doc: dict[str, Any]) -> dict[str, set[str]]:
    """What each resource waits for in CloudFormation: its references and DependsOn, and for a
    function the Globals' environment too. A function's events are resources SAM makes of
    their own (<function><event>: a rule, a permission), each waiting for the function and
    for what the event names; and an HttpApi event makes the API (its route's integration)
    wait for the function."""
    resources = doc["Resources"]
    global_env = doc.get("Globals", {}).get("Function", {}).get("Environment", {})
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        props = dict(resource.get("Properties", {}))
        events = props.pop("Events", {}) if resource["Type"] == "AWS::Serverless::Function" else {}
        graph[logical_id] = references(props) | set(as_list(resource.get("DependsOn", [])))
        if resource["Type"] == "AWS::Serverless::Function":
            graph[logical_id] |= references(global_env)
        for event_id, event in events.items():
            graph[logical_id + event_id] = {logical_id} | references(event["Properties"])
    for logical_id, resource in resources.items():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] == "HttpApi" and isinstance(event["Properties"].get("ApiId"), dict):
                graph[event["Properties"]["ApiId"]["Ref"]].add(logical_id)
    return {node: {d for d in deps if d in graph} for node, deps in graph.items()}


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One dependency cycle of the graph, or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_stack_has_no_dependency_cycle() -> None:
    assert cycle(dependency_graph(TEMPLATE.doc)) is None


def test_the_cycle_check_finds_a_function_environment_that_names_the_api() -> None:
    # Given the template with the webhook URL put in a routed function's environment, as a
    # first attempt would (the cycle the README warns of: API -> function -> API)
    doc = copy.deepcopy(TEMPLATE.doc)
    (api,) = TEMPLATE.of_type("AWS::Serverless::HttpApi")
    routed = sorted({r.function for r in ROUTES})[0]
    doc["Resources"][routed]["Properties"].setdefault("Environment", {"Variables": {}})["Variables"]["URL"] = {
        "Fn::Sub": HTTP_API_URL.format(api=api)
    }
    # Then the check finds it
    found = cycle(dependency_graph(doc))
    assert found is not None and {api, routed} <= set(found)


def depends_on(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dep in graph[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    return seen


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_no_function_environment_leads_to_the_http_api(logical_id: str) -> None:
    graph = dependency_graph(TEMPLATE.doc)
    apis = set(TEMPLATE.of_type("AWS::Serverless::HttpApi"))
    env_refs = references(FUNCTIONS[logical_id].environment) & set(TEMPLATE.resources)
    reached = env_refs | {d for ref in env_refs for d in depends_on(graph, ref)}
    assert reached.isdisjoint(apis), logical_id


def test_the_webhook_base_url_parameter_holds_the_apis_url_unless_a_base_url_is_given() -> None:
    ((logical_id, props),) = TEMPLATE.ssm_parameters().items()
    (api,) = TEMPLATE.of_type("AWS::Serverless::HttpApi")
    condition, if_api, if_given = props["Value"]["Fn::If"]
    assert TEMPLATE.doc["Conditions"][condition] == {"Fn::Equals": [{"Ref": "WebhookBaseUrl"}, ""]}
    assert if_api == {"Fn::Sub": HTTP_API_URL.format(api=api)}
    assert if_given == {"Ref": "WebhookBaseUrl"}
    assert props["Type"] == "String"
    # Locally the API's URL is the local API's
    resolver = local_resolver().with_api_urls({api: "http://127.0.0.1:3000"})
    assert resolver.resolve(props["Value"]) == "http://127.0.0.1:3000"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_functions_get_the_webhook_parameters_name_and_may_read_only_it(logical_id: str) -> None:
    ((parameter, props),) = TEMPLATE.ssm_parameters().items()
    env = FUNCTIONS[logical_id].environment
    reads = [
        statement
        for policy in policies_of(logical_id)
        for statement in statements(policy)
        if any(str(a).startswith("ssm:") for a in as_list(statement["Action"]))
    ]
    if WEBHOOK_VARIABLE not in env:
        assert reads == []
        return
    # Its name, built as the parameter's own is (no reference to the parameter or the API)
    assert env[WEBHOOK_VARIABLE] == props["Name"]
    assert parameter not in references(env)
    # and one action on that one parameter
    (read,) = reads
    assert as_list(read["Action"]) == ["ssm:GetParameter"]
    arn = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + props["Name"]["Fn::Sub"]
    assert read["Resource"] == {"Fn::Sub": arn}


def test_the_dialing_functions_are_given_the_webhook_url() -> None:
    dialing = {name for name, spec in FUNCTIONS.items() if "DIALER_TIMEOUT_SECONDS" in spec.environment}
    assert dialing
    assert {name for name, spec in FUNCTIONS.items() if WEBHOOK_VARIABLE in spec.environment} == dialing


def tasks_given_a_contact() -> list[str]:
    """The functions the state machine hands a contact (by id: it carries no name or number)."""
    found = {function_of_task(s) for s in lambda_tasks().values() if "contact.$" in s["Parameters"]["Payload"]}
    return sorted(found)


def leading_keys_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """Whether a partition key passes IAM's StringLike on any of ``patterns``."""
    wildcards = [re.compile(".*".join(re.escape(part) for part in p.split("*"))).fullmatch for p in patterns]
    return lambda key: any(w(key) for w in wildcards)


def test_the_tasks_given_a_contact_read_it_and_the_clients_limits_and_no_other_item_of_the_main_table() -> None:
    main_table = function_globals("Environment")["Variables"][TableNames.model_fields["main_table"].alias]["Ref"]
    assert tasks_given_a_contact()
    for logical_id in tasks_given_a_contact():
        # Given each task's policies on the table of agents, campaigns and contacts
        reads = [
            statement
            for policy in policies_of(logical_id)
            for statement in statements(policy)
            if statement["Resource"] == {"Fn::GetAtt": [main_table, "Arn"]}
        ]
        templates = [
            name
            for policy in policies_of(logical_id)
            if isinstance(policy, dict)
            for name, spec in policy.items()
            if name.endswith(("ReadPolicy", "CrudPolicy")) and spec.get("TableName") == {"Ref": main_table}
        ]
        # Then it may only get one item by key, and only in a campaign's partition, where
        # contacts live, or the client's settings one (agents and campaigns live in the
        # client's own partition)
        assert templates == [], logical_id
        (read,) = reads
        assert as_list(read["Action"]) == ["dynamodb:GetItem"]
        matches = leading_keys_matcher(as_list(read["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]))
        assert matches(keys.campaign_pk("acme", "cmp_1"))
        assert not matches(keys.client_pk("acme"))
        assert not matches(keys.client_pk("acme#CAMPAIGN#cmp_1"))  # ids cannot splice themselves in
        if logical_id == "DialContactFunction":  # the one that takes call slots
            assert matches(keys.client_settings_pk("acme"))
            assert matches(keys.dnc_pk("acme"))  # the number read before each dial


def test_progress_table_expires_items_on_expires_at() -> None:
    ref = function_globals("Environment")["Variables"][TableNames.model_fields["progress_table"].alias]
    table = TEMPLATE.tables()[ref["Ref"]]
    assert table.ttl_attribute == TTL_ATTRIBUTE == "expiresAt"


# -- sample events ---------------------------------------------------------------------------


def function_of_event(path: Path) -> str | None:
    """The function an events/ file belongs to: named after its folder (plus _<action>)."""
    matches = [
        logical_id
        for logical_id, spec in FUNCTIONS.items()
        if path.stem == spec.code_dir.name or path.stem.startswith(spec.code_dir.name + "_")
    ]
    return max(matches, key=lambda i: len(FUNCTIONS[i].code_dir.name), default=None)


def test_every_function_has_a_sample_event() -> None:
    assert {function_of_event(p) for p in EVENT_FILES} == set(FUNCTIONS)
    readme = (ROOT / "events" / "README.md").read_text()
    assert [p.name for p in EVENT_FILES if p.name not in readme] == []


def test_every_route_has_a_sample_event() -> None:
    sampled = {json.loads(p.read_text()).get("routeKey") for p in EVENT_FILES}
    assert {r.route_key for r in ROUTES} <= sampled


def event_client(path: Path) -> str:
    """Every sample event acts for the client of the sample run."""
    return json.loads((path.parent / "dial_contact.json").read_text())["run"]["clientId"]


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_sample_event_fits_its_function(path: Path) -> None:
    logical_id = function_of_event(path)
    assert logical_id is not None, f"{path.name} is not named after a function folder"
    event = json.loads(path.read_text())
    routes = {r.route_key: r for r in ROUTES if r.function == logical_id}
    if routes:
        assert event["version"] == "2.0"
        route = routes[event["routeKey"]]
        assert event["requestContext"]["routeKey"] == route.route_key
        assert event["requestContext"]["http"]["method"] == route.method
        assert event["requestContext"]["http"]["path"] == event["rawPath"]
        params = event.get("pathParameters", {})
        assert set(params) == set(re.findall(r"\{(\w+)\}", route.path))
        assert event["rawPath"] == route.path.format(**params)
        assert event["isBase64Encoded"] is False
        query = event.get("queryStringParameters", {})
        assert event["rawQueryString"] == "&".join(f"{k}={v}" for k, v in query.items())
        if route.method == "POST" and "body" in event and route.path.endswith(".csv"):
            assert event["headers"]["content-type"] == "text/csv"  # a CSV file, read by the route
        elif route.method == "POST" and "body" in event:
            assert isinstance(json.loads(event["body"]), dict)
            assert event["headers"]["content-type"] == "application/json"
        if route.authorizer is None:
            # An open route's event has no authorizer context: nothing names a client.
            assert "authorizer" not in event["requestContext"]
            return
        # As API Gateway's JWT authorizer delivers it: the client is in the tenant claim.
        claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
        assert claims[TEMPLATE.parameters["TenantClaim"]["Default"]] == event_client(path)
    elif logical_id in eventbridge_functions():
        # As EventBridge delivers it (tests/unit/test_reconcile.py checks the details).
        assert event["version"] == "0"
        assert {"id", "detail-type", "source", "account", "time", "region", "resources", "detail"} <= set(event)
    else:
        payloads = [
            {key.removesuffix(".$") for key in state["Parameters"]["Payload"]}
            for state in lambda_tasks().values()
            if function_of_task(state) == logical_id
        ]
        assert payloads, f"{logical_id} is neither routed nor a task"
        assert set(event) in payloads
        RunContext.model_validate(event["run"])


# -- authentication ------------------------------------------------------------------------------


def test_every_route_but_the_webhooks_requires_the_jwt_authorizer() -> None:
    (api_id,) = TEMPLATE.of_type("AWS::Serverless::HttpApi")
    auth = TEMPLATE.http_api_auth(api_id)
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert set(authorizer["JwtConfiguration"]) == {"issuer", "audience"}
    open_routes = [r for r in ROUTES if r.authorizer != auth["DefaultAuthorizer"]]
    # Exactly one exception, declared as such (not by a missing or other authorizer)
    assert [r.route_key for r in open_routes] == [OPEN_ROUTE]
    (route,) = open_routes
    declared = [
        e["Properties"]
        for e in TEMPLATE.resources[route.function]["Properties"]["Events"].values()
        if e["Type"] == "HttpApi"
    ]
    assert [props.get("Auth") for props in declared] == [{"Authorizer": "NONE"}]
    assert route.authorizer is None


def test_the_tenant_claim_reaches_every_function() -> None:
    for spec in FUNCTIONS.values():
        assert spec.environment.get("TENANT_CLAIM") == {"Ref": "TenantClaim"}, spec.logical_id
    assert TEMPLATE.parameters["TenantClaim"]["Default"] == "sub"


def test_without_an_issuer_the_stack_brings_its_own_user_pool() -> None:
    assert TEMPLATE.doc["Conditions"]["CreateUserPool"] == {"Fn::Equals": [{"Ref": "JwtIssuer"}, ""]}
    for logical_id in ("UserPool", "UserPoolClient"):
        assert TEMPLATE.resources[logical_id]["Condition"] == "CreateUserPool"
    schema = TEMPLATE.resources["UserPool"]["Properties"]["Schema"]
    assert {"Name": "clientId", "AttributeDataType": "String", "Mutable": False} in schema


# -- browsers (CORS) -----------------------------------------------------------------------------


def http_api_cors() -> dict[str, Any]:
    (api_id,) = TEMPLATE.of_type("AWS::Serverless::HttpApi")
    return TEMPLATE.http_api_cors(api_id)


def test_cors_allows_exactly_the_methods_the_routes_use() -> None:
    methods = http_api_cors()["AllowMethods"]
    assert len(methods) == len(set(methods))
    assert set(methods) == {r.method for r in ROUTES}


def test_cors_origins_come_from_a_parameter_that_allows_any_origin_by_default() -> None:
    cors = http_api_cors()
    assert cors["AllowOrigins"] == {"Ref": "CorsAllowedOrigins"}
    parameter = TEMPLATE.parameters["CorsAllowedOrigins"]
    assert (parameter["Type"], parameter["Default"]) == ("CommaDelimitedList", "*")


def test_cors_lets_a_page_send_a_token_and_json_without_credentials() -> None:
    cors = http_api_cors()
    assert {h.lower() for h in cors["AllowHeaders"]} == {"authorization", "content-type", "idempotency-key"}
    # Tokens travel in a header, never in cookies: no credentialed requests.
    assert cors["AllowCredentials"] is False
    assert isinstance(cors["MaxAge"], int) and 0 < cors["MaxAge"] <= 7200  # Chromium caps it at 2 h


def test_an_issuer_without_an_audience_is_rejected_by_a_rule() -> None:
    """As CloudFormation evaluates Rules before it creates anything; the local engine does too."""

    def check(**parameters: str) -> None:
        Resolver(
            TEMPLATE, parameters={"DialerBaseUrl": "http://dialer.invalid", **parameters}, physical_ids={}
        ).check_rules()

    check()  # the stack's own user pool
    check(JwtIssuer="https://issuer.example", JwtAudience="api")
    with pytest.raises(ValueError, match="JwtAudience"):
        check(JwtIssuer="https://issuer.example")


def test_a_dialer_timeout_the_dial_step_cannot_fit_is_rejected_by_a_rule() -> None:
    def check(**parameters: str) -> None:
        Resolver(
            TEMPLATE, parameters={"DialerBaseUrl": "http://dialer.invalid", **parameters}, physical_ids={}
        ).check_rules()

    check(DialerTimeoutSeconds="20")
    for refused in ("21", "2.5", "0"):
        with pytest.raises(ValueError, match="DialerTimeoutSeconds"):
            check(DialerTimeoutSeconds=refused)


# -- what the stack keeps and logs -------------------------------------------------------------------


def resource(logical_id: str) -> dict[str, Any]:
    return TEMPLATE.resources[logical_id]


def log_group_of(reference: Any) -> dict[str, Any]:
    """The log group a Ref (its name) or a GetAtt .Arn points at."""
    if "Ref" in reference:
        logical_id = reference["Ref"]
    else:
        logical_id, attribute = reference["Fn::GetAtt"]
        assert attribute == "Arn"
    group = resource(logical_id)
    assert group["Type"] == "AWS::Logs::LogGroup"
    return group


def test_log_retention_is_a_parameter_of_thirty_days_by_default() -> None:
    parameter = TEMPLATE.parameters["LogRetentionDays"]
    assert parameter["Default"] == 30
    assert {1, 7, 30, 90, 365, 3653} <= set(parameter["AllowedValues"])
    groups = TEMPLATE.of_type("AWS::Logs::LogGroup")
    assert groups
    assert {k: g["Properties"]["RetentionInDays"] for k, g in groups.items()} == dict.fromkeys(
        groups, {"Ref": "LogRetentionDays"}
    )


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_function_logs_to_its_own_group_with_retention(logical_id: str) -> None:
    reference = resource(logical_id)["Properties"]["LoggingConfig"]["LogGroup"]
    log_group_of(reference)
    others = [f for f in FUNCTIONS if f != logical_id]
    assert all(resource(f)["Properties"]["LoggingConfig"]["LogGroup"] != reference for f in others)


def test_state_machine_logs_errors_without_execution_data() -> None:
    logging = state_machine()[1]["Logging"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    ((destination),) = logging["Destinations"]
    log_group_of(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])


def test_the_api_logs_requests_without_personal_data_and_is_throttled() -> None:
    (api_id,) = TEMPLATE.of_type("AWS::Serverless::HttpApi")
    props = resource(api_id)["Properties"]
    log_group_of(props["AccessLogSettings"]["DestinationArn"])
    fields = json.loads(props["AccessLogSettings"]["Format"])
    assert {"requestId", "routeKey", "status"} <= set(fields)
    # No address, user agent, path values, query, body or token claims.
    for variable in ("identity", "path", "rawQueryString", "body", "authorizer", "userAgent"):
        assert not any(f"$context.{variable}" in value for value in fields.values()), variable
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }


@pytest.mark.parametrize("logical_id", sorted(TEMPLATE.tables()))
def test_tables_survive_stack_deletion_and_replacement(logical_id: str) -> None:
    """Every table holds customer data (contacts, runs, call logs)."""
    table = resource(logical_id)
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


@pytest.mark.parametrize("logical_id", sorted(eventbridge_functions()))
def test_functions_eventbridge_invokes_keep_their_failures_in_a_watched_queue(logical_id: str) -> None:
    """EventBridge invokes them asynchronously: nobody waits for the answer, so a failure
    must land somewhere an alarm watches."""
    props = resource(logical_id)["Properties"]
    # Failed after Lambda's retries
    dead_letters = props["DeadLetterQueue"]
    assert dead_letters["Type"] == "SQS"
    (queue, attribute) = dead_letters["TargetArn"]["Fn::GetAtt"]
    assert (resource(queue)["Type"], attribute) == ("AWS::SQS::Queue", "Arn")
    # Not delivered by EventBridge, which may send there: the rules SAM generates
    policies = [r["Properties"] for r in TEMPLATE.of_type("AWS::SQS::QueuePolicy").values()]
    allowed = {
        arn["Fn::GetAtt"][0]
        for policy in policies
        if {"Ref": queue} in policy["Queues"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Principal"] == {"Service": "events.amazonaws.com"}
        for arn in statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    }
    for event_id, event in props["Events"].items():
        if event["Type"] in EVENTBRIDGE_EVENT_TYPES:
            assert event["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}
            assert logical_id + event_id in allowed
    # Watched
    watching = [
        alarm["Properties"]
        for alarm in TEMPLATE.of_type("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}} in alarm["Properties"]["Dimensions"]
    ]
    assert [(a["MetricName"], a["Threshold"], a["ComparisonOperator"]) for a in watching] == [
        ("ApproximateNumberOfMessagesVisible", 0, "GreaterThanThreshold")
    ]


def test_traces_record_no_responses_or_errors() -> None:
    variables = function_globals("Environment")["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
    assert variables["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false"
    # and no handler turns it back on for one method
    for path in [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg in {"capture_response", "capture_error"}:
                assert isinstance(node.value, ast.Constant) and node.value.value is False, path


def test_every_checkov_skip_gives_its_reason() -> None:
    skips = [
        (logical_id, skip)
        for logical_id, res in TEMPLATE.resources.items()
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    unargued = [
        (i, s)
        for i, s in skips
        if not re.fullmatch(r"CKV2?_AWS_\d+", s.get("id", "")) or len(s.get("comment", "")) < 40
    ]
    assert unargued == []


def test_the_layers_ship_nothing_the_runtime_has_and_ship_compiled() -> None:
    """The python3.13 runtime brings boto3 and botocore: a copy in the layer would shadow
    them. aws-xray-sdk (the Tracer) asks for botocore, Powertools for jmespath: both go in
    without their dependencies."""
    common = ROOT / "layers" / "common"
    # Given the common layer's requirements
    names = {
        re.split(r"[<>=\[ ]", line.split("#")[0].strip())[0].lower()
        for file in ("requirements.txt", "requirements-no-deps.txt")
        for line in (common / file).read_text().splitlines()
        if line.split("#")[0].strip()
    }
    # Then nothing of the runtime's SDK is in them, and what would pull it in comes alone
    assert names.isdisjoint({"boto3", "botocore", "s3transfer", "jmespath"})
    no_deps = (common / "requirements-no-deps.txt").read_text()
    assert "aws-xray-sdk" in no_deps
    assert "aws-lambda-powertools" in no_deps
    # And every layer is built by its own Makefile, which compiles it (Lambda cannot cache bytecode)
    for logical_id, resource in TEMPLATE.resources.items():
        if resource["Type"] != "AWS::Serverless::LayerVersion":
            continue
        assert resource["Metadata"]["BuildMethod"] == "makefile"
        makefile = (ROOT / resource["Properties"]["ContentUri"] / "Makefile").read_text()
        assert f"build-{logical_id}:" in makefile
        assert "compileall" in makefile


# -- the web console (DeployConsole) -------------------------------------------------------------

CONSOLE_CONDITIONS = {"ConsoleDeployed", "ConsoleSignIn"}
STACK_ID = (
    "arn:aws:cloudformation:eu-west-1:123456789012:stack/Campaign-Calling-PROD/1c2fa620-982a-11e3-aff7-50e2416294e0"
)


def cfn_var(name: str) -> str:
    return "${" + name + "}"


def render(value: Any, conditions: dict[str, bool], refs: dict[str, str] | None = None) -> Any:
    """A value with the intrinsic functions the console's resources use (Ref, Sub, If, Join,
    Select, Split) worked out; a resource's Ref or attribute stays as ${Name} / ${Name.Attr}."""
    refs = {"AWS::Region": "eu-west-1", "AWS::URLSuffix": "amazonaws.com", "AWS::StackId": STACK_ID, **(refs or {})}
    if isinstance(value, list):
        return [render(v, conditions, refs) for v in value]
    if not (isinstance(value, dict) and len(value) == 1):
        return {k: render(v, conditions, refs) for k, v in value.items()} if isinstance(value, dict) else value
    ((key, arg),) = value.items()
    if key == "Ref":
        return refs.get(arg, cfn_var(arg))
    if key == "Fn::GetAtt":
        return cfn_var(".".join(arg))
    if key == "Fn::If":
        name, if_true, if_false = arg
        return render(if_true if conditions[name] else if_false, conditions, refs)
    if key == "Fn::Join":
        return arg[0].join(render(arg[1], conditions, refs))
    if key == "Fn::Select":
        return render(arg[1], conditions, refs)[int(arg[0])]
    if key == "Fn::Split":
        return render(arg[1], conditions, refs).split(arg[0])
    if key == "Fn::Sub":
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: render(v, conditions, refs) for k, v in variables.items()}
        return re.sub(r"\$\{([^}!]+)\}", lambda m: values.get(m.group(1), refs.get(m.group(1), m.group(0))), text)
    return {key: render(arg, conditions, refs)}


def console_resources() -> dict[str, dict[str, Any]]:
    kinds = ("AWS::S3::", "AWS::CloudFront::", "AWS::Cognito::UserPoolDomain")
    return {k: v for k, v in TEMPLATE.resources.items() if v["Type"].startswith(kinds)}


def only(resource_type: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, found),) = TEMPLATE.of_type(resource_type).items()
    return logical_id, found


def csp(sign_in: bool) -> dict[str, list[str]]:
    _, policy = only("AWS::CloudFront::ResponseHeadersPolicy")
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    assert config["Override"] is True
    text = render(config["ContentSecurityPolicy"], {"ConsoleSignIn": sign_in})
    directives = [d.split() for d in text.split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def test_the_console_is_off_by_default_and_all_of_it_hangs_on_that_switch() -> None:
    parameter = TEMPLATE.parameters["DeployConsole"]
    assert (parameter["Default"], sorted(parameter["AllowedValues"])) == ("false", ["false", "true"])
    conditions = TEMPLATE.doc["Conditions"]
    assert conditions["ConsoleDeployed"] == {"Fn::Equals": [{"Ref": "DeployConsole"}, "true"]}
    assert conditions["ConsoleSignIn"] == {
        "Fn::And": [{"Condition": "ConsoleDeployed"}, {"Condition": "CreateUserPool"}]
    }
    # Every resource of the console is created only with it; the sign-in domain only with the user pool too
    resources = console_resources()
    assert {r["Type"] for r in resources.values()} >= {
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl",
        "AWS::CloudFront::ResponseHeadersPolicy",
        "AWS::Cognito::UserPoolDomain",
    }
    for logical_id, res in resources.items():
        expected = "ConsoleSignIn" if res["Type"] == "AWS::Cognito::UserPoolDomain" else "ConsoleDeployed"
        assert res.get("Condition") == expected, logical_id
    # And with the defaults the local engine's reading of the template leaves it out
    resolver = Resolver(TEMPLATE, parameters={"DialerBaseUrl": "http://dialer.invalid"}, physical_ids={})
    assert not any(resolver.condition({"Condition": name}) for name in CONSOLE_CONDITIONS)


def test_the_console_bucket_is_private_encrypted_and_versioned() -> None:
    _, bucket = only("AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}  # no ACLs at all
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "WebsiteConfiguration" not in props and "AccessControl" not in props


def test_only_the_distribution_may_read_the_bucket_and_only_over_tls() -> None:
    bucket_id, _ = only("AWS::S3::Bucket")
    distribution_id, _ = only("AWS::CloudFront::Distribution")
    _, policy = only("AWS::S3::BucketPolicy")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    # One grant: CloudFront reads objects, for this distribution only
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert as_list(allow["Action"]) == ["s3:GetObject"]
    assert allow["Resource"] == {"Fn::Sub": cfn_var(f"{bucket_id}.Arn") + "/*"}
    assert allow["Condition"] == {
        "StringEquals": {
            "AWS:SourceArn": {
                "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/"
                + cfn_var(distribution_id)
            }
        }
    }
    # And every request without TLS is refused, to anyone
    (deny,) = denies
    assert (deny["Principal"], deny["Action"]) == ("*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert render(deny["Resource"], {}) == [cfn_var(f"{bucket_id}.Arn"), cfn_var(f"{bucket_id}.Arn") + "/*"]


def test_the_distribution_reads_the_bucket_through_an_origin_access_control() -> None:
    bucket_id, _ = only("AWS::S3::Bucket")
    oac_id, oac = only("AWS::CloudFront::OriginAccessControl")
    _, distribution = only("AWS::CloudFront::Distribution")
    # Not the legacy origin access identity
    assert TEMPLATE.of_type("AWS::CloudFront::CloudFrontOriginAccessIdentity") == {}
    assert oac["Properties"]["OriginAccessControlConfig"] | {"Name": None, "Description": None} == {
        "Name": None,
        "Description": None,
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_the_distribution_serves_index_html_over_https_only_with_the_headers_policy() -> None:
    policy_id, _ = only("AWS::CloudFront::ResponseHeadersPolicy")
    _, distribution = only("AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    behaviours = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
    for behaviour in behaviours:
        assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
        assert behaviour["ResponseHeadersPolicyId"] == {"Ref": policy_id}
        assert sorted(behaviour["AllowedMethods"]) == ["GET", "HEAD"]


def test_the_csp_lets_pages_talk_only_to_their_origin_the_api_and_the_stacks_sign_in() -> None:
    api_origin = render({"Fn::Sub": HTTP_API_URL.format(api="HttpApi")}, {}, {"HttpApi": "a1b2c3d4e5"})
    cognito = render(
        TEMPLATE.doc["Outputs"]["CognitoDomain"]["Value"], {}, {"ConsoleUserPoolDomain": "campaign-calling-x"}
    )
    for sign_in in (False, True):
        directives = csp(sign_in)
        connect = directives["connect-src"]
        # 'self' is config.json; the API's origin is matched by the one API source, and
        # Cognito's domain is there only when the stack made the user pool
        assert connect[0] == "'self'"
        (api_source,) = [s for s in connect if "execute-api" in s]
        assert re.fullmatch(re.escape(api_source).replace(r"\*", r"[a-z0-9]+"), api_origin)
        assert api_source == "https://*.execute-api.eu-west-1.amazonaws.com"  # this region's APIs, no other host
        assert len(connect) == (3 if sign_in else 2)
        if sign_in:
            assert connect[2] == "https://${ConsoleUserPoolDomain}.auth.eu-west-1.amazoncognito.com"
            assert render({"Fn::Sub": connect[2]}, {}, {"ConsoleUserPoolDomain": "campaign-calling-x"}) == cognito
        # And nothing runs but the console's own files; no page may frame it
        assert directives["default-src"] == ["'none'"]
        assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
        assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
        assert directives["base-uri"] == ["'none'"]
        assert not any("unsafe" in s for sources in directives.values() for s in sources)


def test_a_csp_naming_the_api_itself_would_make_the_stack_a_cycle() -> None:
    """Why the CSP names the region's APIs: the user pool client's callback URL is the
    distribution's, the API's authorizer names that client, so the distribution cannot wait
    for the API (cfn-lint says E3004 too)."""
    # Given the template with the API's own origin in connect-src
    doc = copy.deepcopy(TEMPLATE.doc)
    policy_id, _ = only("AWS::CloudFront::ResponseHeadersPolicy")
    (api,) = TEMPLATE.of_type("AWS::Serverless::HttpApi")
    config = doc["Resources"][policy_id]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    config["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"][1]["Api"] = {
        "Fn::Sub": HTTP_API_URL.format(api=api)
    }
    # Then the stack has a cycle through the user pool client's callback URL
    found = cycle(dependency_graph(doc))
    assert found is not None and {api, "UserPoolClient", policy_id} <= set(found)


def test_the_apis_cors_origins_could_name_the_console_without_a_cycle() -> None:
    """The console's CSP does not name the API, so the API could wait for the distribution
    (README, "The console in AWS", says why the stack still leaves CorsAllowedOrigins to the
    deployer: the SAM transform resolves the parameter inside CorsConfiguration itself)."""
    # Given the template with the console's origin added to the API's CORS origins
    doc = copy.deepcopy(TEMPLATE.doc)
    distribution_id, _ = only("AWS::CloudFront::Distribution")
    (api,) = TEMPLATE.of_type("AWS::Serverless::HttpApi")
    doc["Resources"][api]["Properties"]["CorsConfiguration"]["AllowOrigins"] = {
        "Fn::If": ["ConsoleDeployed", ["https://" + cfn_var(f"{distribution_id}.DomainName")], {"Ref": "AWS::NoValue"}]
    }
    # Then the stack has no cycle
    assert cycle(dependency_graph(doc)) is None


def test_the_console_gets_security_headers() -> None:
    _, policy = only("AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert all(h["Override"] is True for h in headers.values())
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert "ContentTypeOptions" in headers  # nosniff
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    # The sign-in's authorization code arrives in the URL: no referrer carries it away
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] in {"no-referrer", "same-origin"}


def test_the_user_pool_client_gets_oauth_only_with_the_console() -> None:
    client = TEMPLATE.resources["UserPoolClient"]["Properties"]
    distribution_id, _ = only("AWS::CloudFront::Distribution")
    oauth = {
        "AllowedOAuthFlowsUserPoolClient",
        "AllowedOAuthFlows",
        "AllowedOAuthScopes",
        "SupportedIdentityProviders",
        "CallbackURLs",
        "LogoutURLs",
    }
    assert oauth <= set(client)
    # Without the console: every OAuth property absent, as before the console existed
    without = {k: v for k in oauth if (v := render(client[k], {"ConsoleSignIn": False})) != "${AWS::NoValue}"}
    assert without == {}
    for key in oauth:
        assert client[key]["Fn::If"][0] == "ConsoleSignIn", key
    # With it: the code flow (the console adds PKCE; a public client has no secret), back to the console
    with_console = {k: render(client[k], {"ConsoleSignIn": True}) for k in oauth}
    assert with_console["AllowedOAuthFlowsUserPoolClient"] is True
    assert with_console["AllowedOAuthFlows"] == ["code"]
    assert set(with_console["AllowedOAuthScopes"]) == {"openid", "email"}
    assert with_console["SupportedIdentityProviders"] == ["COGNITO"]
    console_url = TEMPLATE.doc["Outputs"]["ConsoleUrl"]["Value"]
    assert console_url == {"Fn::Sub": "https://" + cfn_var(f"{distribution_id}.DomainName") + "/"}
    assert with_console["CallbackURLs"] == with_console["LogoutURLs"] == [render(console_url, {})]
    assert client["GenerateSecret"] is False


@pytest.mark.parametrize(
    "stack_id",
    [
        STACK_ID,
        "arn:aws:cloudformation:us-east-1:123456789012:stack/" + "A" * 128 + "/00000000-0000-0000-0000-000000000000",
        "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/aws-amazon-cognito/ffffffff-ffff-ffff-ffff-ffffffffffff",
    ],
)
def test_the_cognito_domain_prefix_is_valid_for_any_stack(stack_id: str) -> None:
    _, domain = only("AWS::Cognito::UserPoolDomain")
    prefix = render(domain["Properties"]["Domain"], {}, {"AWS::StackId": stack_id})
    # Cognito's pattern, and none of the words it refuses in a prefix
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?", prefix), prefix
    assert not any(word in prefix for word in ("aws", "amazon", "cognito"))
    assert domain["Properties"]["UserPoolId"] == {"Ref": "UserPool"}


def test_the_console_outputs_exist_only_with_it() -> None:
    outputs = TEMPLATE.doc["Outputs"]
    for name in ("ConsoleUrl", "ConsoleBucketName", "ConsoleDistributionId"):
        assert outputs[name]["Condition"] == "ConsoleDeployed", name
    assert outputs["CognitoDomain"]["Condition"] == "ConsoleSignIn"
    assert (
        render(outputs["CognitoDomain"]["Value"], {})
        == "https://${ConsoleUserPoolDomain}.auth.eu-west-1.amazoncognito.com"
    )
