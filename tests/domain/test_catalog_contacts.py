"""Contacts on in-memory stores: added in order and all or nothing, listed in pages."""

from __future__ import annotations

import pytest

from campaign_calling.catalog.limits import ClientLimits
from campaign_calling.errors import Conflict, DependencyUnavailable, InvalidRequest, NotFound
from campaign_calling.models import CampaignInput, ContactInput, ContactsAdded
from tests.support.fakes_catalog import FakeCatalog, contact_inputs

CLIENT = "client-a"


def a_campaign(catalog: FakeCatalog, contacts: int, client: str = CLIENT) -> str:
    return catalog.service().create_campaign(client, CampaignInput(name="S", contacts=contact_inputs(contacts))).id


def test_given_a_campaign_when_contacts_are_added_then_they_continue_its_numbering() -> None:
    # Given a campaign of 2 contacts
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 2)
    catalog.clock.advance(1_000)
    # When 3 more are added
    added = catalog.service().add_contacts(CLIENT, campaign_id, contact_inputs(3, prefix="D"))
    # Then they are numbered after the first ones, in the order given, and counted
    assert isinstance(added, ContactsAdded)
    assert (added.campaignId, added.added, added.totalContacts) == (campaign_id, 3, 5)
    assert [(c.id, c.name) for c in added.contacts] == [
        ("ct_0000000003", "D1"),
        ("ct_0000000004", "D2"),
        ("ct_0000000005", "D3"),
    ]
    assert {c.createdAt for c in added.contacts} == {"2024-01-15T10:30:01.000Z"}
    assert catalog.service().get_campaign(CLIENT, campaign_id).totalContacts == 5


def test_given_contacts_added_when_the_api_shows_them_then_ids_are_underscored_and_seq_hidden() -> None:
    catalog = FakeCatalog()
    added = catalog.service().add_contacts(CLIENT, a_campaign(catalog, 0), contact_inputs(1))
    (shown,) = added.model_dump(mode="json", by_alias=True)["contacts"]
    assert shown == {
        "_id": "ct_0000000001",
        "name": "C1",
        "phone": "+12025550001",
        "createdAt": added.contacts[0].createdAt,
    }


def test_given_no_campaign_when_contacts_are_added_then_it_is_not_found() -> None:
    with pytest.raises(NotFound, match="campaign not found"):
        FakeCatalog().service().add_contacts(CLIENT, "cmp_missing", contact_inputs(1))


def test_given_another_add_in_progress_when_contacts_are_added_then_409_and_nothing_stored() -> None:
    # Given a campaign another add keeps busy
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 1)
    catalog.campaigns.hold_adds(CLIENT, campaign_id)
    # When contacts are added
    with pytest.raises(Conflict, match="concurrently"):
        catalog.service().add_contacts(CLIENT, campaign_id, contact_inputs(2, prefix="X"))
    # Then none of them is stored or counted
    assert [c.name for c in catalog.campaigns.stored_contacts(CLIENT, campaign_id)] == ["C1"]
    assert catalog.service().get_campaign(CLIENT, campaign_id).totalContacts == 1


def test_given_a_failing_store_when_contacts_are_added_then_none_is_stored_and_the_next_add_goes_ahead() -> None:
    # Given
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 3)
    catalog.campaigns.fail_next_write = DependencyUnavailable("the database stayed busy")
    service = catalog.service()
    # When
    with pytest.raises(DependencyUnavailable):
        service.add_contacts(CLIENT, campaign_id, contact_inputs(250, prefix="X"))
    # Then
    assert service.get_campaign(CLIENT, campaign_id).totalContacts == 3
    again = service.add_contacts(CLIENT, campaign_id, contact_inputs(2, prefix="Y"))
    assert ([c.id for c in again.contacts], again.totalContacts) == (["ct_0000000004", "ct_0000000005"], 5)


def test_given_23_contacts_when_listed_in_pages_of_5_then_every_contact_comes_once_in_order() -> None:
    # Given
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 23)
    service = catalog.service()
    # When
    seen: list[str] = []
    token: str | None = None
    for _ in range(10):
        page = service.list_contacts(CLIENT, campaign_id, 5, token)
        assert len(page.items) <= 5
        seen += [c.id for c in page.items]
        token = page.nextToken
        if token is None:
            break
    # Then
    assert seen == [f"ct_{n:010d}" for n in range(1, 24)]


def test_given_a_token_of_another_campaign_when_listing_then_it_is_refused() -> None:
    # Given two campaigns, and a token of the first one's list
    catalog = FakeCatalog()
    first, second = a_campaign(catalog, 4), a_campaign(catalog, 4)
    token = catalog.service().list_contacts(CLIENT, first, 2, None).nextToken
    assert token
    # When / Then
    with pytest.raises(InvalidRequest, match="nextToken is not valid"):
        catalog.service().list_contacts(CLIENT, second, 2, token)
    with pytest.raises(InvalidRequest, match="nextToken is not valid"):
        catalog.service().list_call_logs(CLIENT, first, 2, token)


def test_given_an_empty_campaign_when_listing_then_the_page_is_empty_and_last() -> None:
    catalog = FakeCatalog()
    page = catalog.service().list_contacts(CLIENT, a_campaign(catalog, 0), 10, None)
    assert (page.items, page.nextToken) == ([], None)


def test_given_no_campaign_when_listing_then_it_is_not_found_not_an_empty_page() -> None:
    with pytest.raises(NotFound, match="campaign not found"):
        FakeCatalog().service().list_contacts(CLIENT, "cmp_missing", 10, None)


def test_given_contacts_of_an_unfinished_add_when_listing_then_they_are_not_shown() -> None:
    # Given a campaign of 2 and an add that wrote its contacts but never published them
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 2)
    catalog.campaigns.write_unpublished(CLIENT, campaign_id, contact_inputs(3, prefix="X"))
    # When
    page = catalog.service().list_contacts(CLIENT, campaign_id, 10, None)
    # Then
    assert [c.name for c in page.items] == ["C1", "C2"]


# -- duplicates: a campaign holds each number once ------------------------------------------


def test_given_a_campaign_when_numbers_it_holds_are_added_then_they_are_left_out_and_reported() -> None:
    # Given a campaign holding C1 and C2's numbers
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 2)
    held = contact_inputs(2)
    new = contact_inputs(2, prefix="D")
    # When an add gives C2's number, two new ones, and C1's number
    added = catalog.service().add_contacts(CLIENT, campaign_id, [held[1], new[0], new[1], held[0]])
    # Then only the new numbers are stored, and the answer names the others by their index
    assert [c.name for c in added.contacts] == ["D1", "D2"]
    assert (added.added, added.totalContacts, added.duplicateCount) == (2, 4, 2)
    assert [(d.index, d.phone) for d in added.duplicates] == [(0, held[1].phone), (3, held[0].phone)]
    assert len(catalog.campaigns.stored_contacts(CLIENT, campaign_id)) == 4


def test_given_a_number_twice_in_one_add_then_it_is_stored_once_at_its_first_place() -> None:
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 0)
    first, second = contact_inputs(2, prefix="D")
    again = ContactInput(name="Same number, other name", phone=f" {first.phone} ")
    # When D1, D1's number again, D2 are added
    added = catalog.service().add_contacts(CLIENT, campaign_id, [first, again, second])
    # Then D1 and D2 are stored, the second D1 reported
    assert [c.name for c in added.contacts] == ["D1", "D2"]
    assert [(d.index, d.phone) for d in added.duplicates] == [(1, first.phone)]
    assert (added.added, added.totalContacts, added.duplicateCount) == (2, 2, 1)


def test_given_only_numbers_the_campaign_holds_when_added_then_nothing_is_stored() -> None:
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 2)
    added = catalog.service().add_contacts(CLIENT, campaign_id, contact_inputs(2))
    assert (added.added, added.totalContacts, added.contacts, added.duplicateCount) == (0, 2, [], 2)


def test_given_a_number_twice_when_a_campaign_is_created_then_it_holds_it_once() -> None:
    catalog = FakeCatalog()
    one, two = contact_inputs(2)
    created = catalog.service().create_campaign(CLIENT, CampaignInput(name="S", contacts=[one, two, one]))
    assert created.totalContacts == 2
    assert [(d.index, d.phone) for d in created.duplicates] == [(2, one.phone)]
    assert created.duplicateCount == 1
    assert [c.name for c in catalog.campaigns.stored_contacts(CLIENT, created.id)] == ["C1", "C2"]


def test_the_same_number_in_two_campaigns_is_no_duplicate() -> None:
    catalog = FakeCatalog()
    a_campaign(catalog, 2)
    added = catalog.service().add_contacts(CLIENT, a_campaign(catalog, 0), contact_inputs(2))
    assert (added.added, added.duplicates) == (2, [])


# -- numbers never called ---------------------------------------------------------------------

PREMIUM_RATE = "+19002345678"
SHARED_COST = "+4918012345"


def test_given_a_premium_rate_number_when_contacts_are_added_then_400_naming_it_and_nothing_stored() -> None:
    # Given a campaign of 1, and a client whose settings say nothing of premium-rate numbers
    catalog = FakeCatalog()
    campaign_id = a_campaign(catalog, 1)
    contacts = [
        *contact_inputs(2, prefix="D"),
        ContactInput(name="Toll", phone=PREMIUM_RATE),
        ContactInput(name="Shared", phone=SHARED_COST),
    ]
    # When it is added with ordinary numbers
    with pytest.raises(InvalidRequest) as info:
        catalog.service().add_contacts(CLIENT, campaign_id, contacts)
    # Then the request is refused naming each such contact by index and why, nothing stored
    assert info.value.message == (
        f"contacts.2.phone: '{PREMIUM_RATE}' is a premium-rate number, not called unless the client settings "
        "allow premium-rate numbers (allowPremiumRateNumbers); "
        f"contacts.3.phone: '{SHARED_COST}' is a shared-cost number, not called unless the client settings "
        "allow premium-rate numbers (allowPremiumRateNumbers)"
    )
    assert len(catalog.campaigns.stored_contacts(CLIENT, campaign_id)) == 1
    assert catalog.service().get_campaign(CLIENT, campaign_id).totalContacts == 1


def test_given_a_premium_rate_number_when_a_campaign_is_created_then_no_campaign() -> None:
    catalog = FakeCatalog()
    contacts = [*contact_inputs(1), ContactInput(name="Toll", phone=PREMIUM_RATE)]
    with pytest.raises(InvalidRequest, match=r"contacts\.1\.phone: .* premium-rate"):
        catalog.service().create_campaign(CLIENT, CampaignInput(name="S", contacts=contacts))


def test_given_settings_allowing_premium_rate_numbers_then_they_are_added() -> None:
    # Given a client whose settings allow premium-rate numbers
    catalog = FakeCatalog()
    catalog.settings.put(CLIENT, ClientLimits(allowPremiumRateNumbers=True))
    campaign_id = a_campaign(catalog, 0)
    # When they are added
    added = catalog.service().add_contacts(
        CLIENT, campaign_id, [ContactInput(name="Toll", phone=PREMIUM_RATE), ContactInput(name="S", phone=SHARED_COST)]
    )
    # Then they are stored
    assert [c.phone for c in added.contacts] == [PREMIUM_RATE, SHARED_COST]
    # And another client's settings allow nothing
    with pytest.raises(InvalidRequest):
        catalog.service().add_contacts(
            "client-b", a_campaign(catalog, 0, client="client-b"), added_inputs(PREMIUM_RATE)
        )


def added_inputs(phone: str) -> list[ContactInput]:
    return [ContactInput(name="X", phone=phone)]
