"""Campaigns on in-memory stores: created with their first contacts, all or nothing."""

from __future__ import annotations

import pytest

from campaign_calling.errors import DependencyUnavailable, NotFound
from campaign_calling.models import Campaign, CampaignInput
from tests.support.fakes_catalog import FakeCatalog, contact_inputs


def test_given_a_campaign_with_contacts_when_created_then_it_counts_them_and_numbers_them_in_order() -> None:
    # Given
    catalog = FakeCatalog()
    service = catalog.service()
    # When
    campaign = service.create_campaign("client-a", CampaignInput(name="Spring", contacts=contact_inputs(3)))
    # Then
    assert isinstance(campaign, Campaign)
    assert campaign.id.startswith("cmp_")
    assert (campaign.name, campaign.totalContacts, campaign.isRunning) == ("Spring", 3, False)
    assert campaign.createdAt == "2024-01-15T10:30:00.000Z"
    contacts = service.list_contacts("client-a", campaign.id, 10, None).items
    assert [(c.id, c.name) for c in contacts] == [
        ("ct_0000000001", "C1"),
        ("ct_0000000002", "C2"),
        ("ct_0000000003", "C3"),
    ]


def test_given_a_campaign_when_read_then_it_is_the_campaign_created() -> None:
    service = FakeCatalog().service()
    created = service.create_campaign("client-a", CampaignInput(name="Spring"))
    assert service.get_campaign("client-a", created.id) == Campaign.model_validate(
        created.model_dump(exclude={"duplicates", "duplicateCount"})
    )
    assert created.totalContacts == 0


def test_given_a_campaign_when_the_api_shows_it_then_internal_fields_stay_hidden() -> None:
    service = FakeCatalog().service()
    created = service.create_campaign("client-a", CampaignInput(name="Spring", contacts=contact_inputs(2)))
    shown = created.model_dump(mode="json", by_alias=True)
    assert shown["_id"] == created.id
    assert "nextContactSeq" not in shown


def test_given_the_store_failing_when_a_campaign_is_created_then_there_is_no_campaign() -> None:
    # Given
    catalog = FakeCatalog()
    catalog.campaigns.fail_next_write = DependencyUnavailable("the database stayed busy")
    service = catalog.service()
    # When
    with pytest.raises(DependencyUnavailable):
        service.create_campaign("client-a", CampaignInput(name="Spring", contacts=contact_inputs(250)))
    # Then the next create succeeds with every contact
    campaign = service.create_campaign("client-a", CampaignInput(name="Spring", contacts=contact_inputs(250)))
    assert campaign.totalContacts == 250


def test_given_a_campaign_of_one_client_when_another_client_reads_it_then_it_is_not_found() -> None:
    service = FakeCatalog().service()
    campaign = service.create_campaign("client-a", CampaignInput(name="Spring"))
    with pytest.raises(NotFound, match="campaign not found"):
        service.get_campaign("client-b", campaign.id)
    with pytest.raises(NotFound, match="campaign not found"):
        service.get_campaign("client-a", "cmp_missing")
