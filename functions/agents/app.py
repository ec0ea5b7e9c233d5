"""/api/v1/client/agents: create, list, read, change and delete the client's agents."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from campaign_api.app import create_app
from campaign_api.params import PageLimit, PageToken, ResourceId
from campaign_api.responses import AgentChanged, AgentCreated, AgentFound, AgentPageResponse, errors, success
from campaign_api.tenant import client_id
from campaign_calling.models import AgentInput, AgentPatch
from campaign_calling.observability.log_masking import masked_json
from campaign_calling.observability.tracing import handler_tracer
from campaign_calling.settings import (
    ProviderAccountSettings,
    ProviderDefaultSettings,
    ProviderEndpointSettings,
    TableNames,
    TenantSettings,
    get_settings,
)
from campaign_calling.wiring import catalog_service

logger = Logger(json_serializer=masked_json)  # phone numbers masked
tracer = handler_tracer()
app = create_app(logger)


class Settings(TableNames, TenantSettings, ProviderAccountSettings, ProviderEndpointSettings, ProviderDefaultSettings):
    """The environment this function reads (template.yaml gives it exactly these)."""


@app.post(
    "/api/v1/client/agents",
    summary="Create an agent",
    description="An agent is a provider's agent (assistant) id and the number its calls come from (validated, "
    "stored in E.164; required for twilio, vapi and retell). Both are checked with the provider: they must "
    "belong to your own account of that provider when you connected one, else to this deployment's default "
    "account and its operator's allow-list for you. Nothing is stored when a check fails.",
    tags=["Agents"],
    status_code=201,
    responses={
        **success("The agent, with its id", 201),
        **errors(
            415,
            503,
            e403="The agent id or number is not your account's (or not allowed for you on the default account); "
            "the message names which",
            e503="The provider could not be asked; nothing was stored, try again",
        ),
    },
)
def create_agent(body: AgentInput) -> AgentCreated:
    agent = catalog_service().create_agent(client_id(app), body)
    return AgentCreated(success=True, message="Agent created", data=agent)


@app.get(
    "/api/v1/client/agents/<id>",
    summary="Get an agent",
    tags=["Agents"],
    responses={**success("The agent"), **errors(404, e404="agent not found")},
)
def get_agent(id: ResourceId) -> AgentFound:
    return AgentFound(success=True, data=catalog_service().get_agent(client_id(app), id))


@app.get(
    "/api/v1/client/agents",
    summary="List your agents",
    description="Every agent of yours, by id, a page at a time.",
    tags=["Agents"],
    responses={**success("A page of agents"), **errors(e400="Invalid parameter or nextToken")},
)
def list_agents(limit: PageLimit = 50, nextToken: PageToken = None) -> AgentPageResponse:
    return AgentPageResponse(success=True, data=catalog_service().list_agents(client_id(app), limit, nextToken))


IN_USE = "A running or paused run calls with this agent (the message names it); nothing was changed"


@app.patch(
    "/api/v1/client/agents/<id>",
    summary="Change an agent",
    description="Any of create's fields; a field left out keeps its value, `null` clears callerId, twimlUrl or "
    "phoneNumberId. A change of providerAgentId, provider, callerId, twimlUrl or phoneNumberId is checked with "
    "the provider as create checks it. Refused (409) while a running or paused run calls with the agent.",
    tags=["Agents"],
    responses={
        **success("The agent as changed"),
        **errors(
            404,
            409,
            415,
            503,
            e403="The agent id or number is not your account's (or not allowed for you on the default account); "
            "the message names which",
            e404="agent not found",
            e409=IN_USE,
            e503="The provider could not be asked; nothing was changed, try again",
        ),
    },
)
def update_agent(id: ResourceId, body: AgentPatch) -> AgentChanged:
    agent = catalog_service().update_agent(client_id(app), id, body)
    return AgentChanged(success=True, message="Agent updated", data=agent)


@app.delete(
    "/api/v1/client/agents/<id>",
    summary="Delete an agent",
    description="Refused (409) while a running or paused run calls with it. Its call logs are kept.",
    tags=["Agents"],
    responses={
        **success("The agent as it was"),
        **errors(404, 409, e404="agent not found", e409=IN_USE),
    },
)
def delete_agent(id: ResourceId) -> AgentChanged:
    agent = catalog_service().delete_agent(client_id(app), id)
    logger.info("agent deleted")
    return AgentChanged(success=True, message="Agent deleted", data=agent)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    get_settings(Settings)  # validated on the first invocation, never at import
    return app.resolve(event, context)
