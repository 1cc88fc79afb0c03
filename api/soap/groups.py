"""Group, campaign and e-mail operations of the SOAP API (see ``operations.py``): groups by their
ids, members by system_id; a campaign is a flow, by the id ``soap.campaigns`` gives it."""

from __future__ import annotations

from typing import Any

from api import services
from api.soap.envelope import Fault
from api.soap.operations import (
    _system_id,
    flow_set,
    group_element,
    member,
    members_set,
    needed,
    operation,
)
from api.state import AppState


def _group(state: AppState, group_id: int) -> dict[str, Any]:
    for group in services.all_groups(state):
        if group["id"] == group_id:
            return group
    raise Fault(f"no group with id {group_id}; group_getAll lists them")


def _named(state: AppState, group: dict[str, Any]) -> dict[str, Any]:
    """The stored group a request's Group names, by id or else by name."""
    if group.get("id") is not None:
        return _group(state, int(group["id"]))
    for found in services.all_groups(state):
        if group.get("name") and found["name"] == group["name"]:
            return found
    raise Fault("name the group by its id or name")


@operation("groups", False)
def group_getAll(state: AppState, params: dict[str, Any]) -> Any:
    return [group_element(g) for g in services.all_groups(state)]


@operation("groups", False)
def group_getById(state: AppState, params: dict[str, Any]) -> Any:
    return group_element(_group(state, needed(params, "groupId")))


@operation("groups", False)
def group_getByObject(state: AppState, params: dict[str, Any]) -> Any:
    wanted = needed(params, "group")
    return [
        group_element(g)
        for g in services.all_groups(state)
        if all(wanted.get(k) in (None, g[k]) for k in ("id", "name"))
    ]


@operation("groups", True)
def group_insert(state: AppState, params: dict[str, Any]) -> Any:
    name = (needed(params, "group").get("name") or "").strip()
    if not name:
        raise Fault("a new group needs a name")
    return group_element({**services.create_group(state, name), "id": _id_of(state, name)})


def _id_of(state: AppState, name: str) -> int:
    return next(int(g["id"]) for g in services.all_groups(state) if g["name"] == name)


@operation("groups", True)
def group_delete(state: AppState, params: dict[str, Any]) -> Any:
    services.remove_group(state, _group(state, needed(params, "groupId"))["name"])
    return True


def _membership(state: AppState, params: dict[str, Any], add: bool) -> bool:
    group = _named(state, needed(params, "group"))
    customer = _system_id(state, needed(params, "customer"))
    services.change_members(
        state, group["name"], [customer] if add else [], [] if add else [customer]
    )
    return True


@operation("groups", True)
def group_addMember(state: AppState, params: dict[str, Any]) -> Any:
    return _membership(state, params, add=True)


@operation("groups", True)
def group_removeMember(state: AppState, params: dict[str, Any]) -> Any:
    return _membership(state, params, add=False)


@operation("groups", False)
def group_getMembers(state: AppState, params: dict[str, Any]) -> Any:
    return members_set(state, _group(state, needed(params, "groupId"))["id"])


@operation("groups", False)
def group_hasMember(state: AppState, params: dict[str, Any]) -> Any:
    group = _group(state, needed(params, "groupId"))
    customer_id = needed(params, "customerId")
    return {
        "groupId": group["id"],
        "customerId": customer_id,
        "isMember": member(state, group["id"], customer_id),
    }


def campaign(state: AppState, params: dict[str, Any]) -> str:
    """The flow a campaignId names (``soap.campaigns`` in sluis.yaml)."""
    campaign_id = needed(params, "campaignId")
    campaigns = state.project.settings.soap.campaigns
    if campaign_id not in campaigns:
        known = ", ".join(f"{k} ({v})" for k, v in sorted(campaigns.items())) or "none"
        raise Fault(
            f"no campaign {campaign_id}: give flows campaign ids under soap.campaigns in "
            f"sluis.yaml; campaigns: {known}"
        )
    return campaigns[campaign_id]


@operation("flows", True)
def campaign_addMember(state: AppState, params: dict[str, Any]) -> Any:
    """A start of the campaign's flow for one customer, as POST /api/v1/flows/NAME/start."""
    flow = campaign(state, params)
    customer = needed(params, "customerId")
    services.start_flow(state, flow, [customer])
    return True


@operation("flows", False)
def campaign_getMembers(state: AppState, params: dict[str, Any]) -> Any:
    return flow_set(state, campaign(state, params))


@operation("mails", True)
def email_sendToCustomer(state: AppState, params: dict[str, Any]) -> Any:
    """The transactional send of POST /api/v1/mails/FLOW/OBJECT; the mail object is the one
    ``soap.mails`` gives the emailId. True when the mail went out (or went out before)."""
    email_id = needed(params, "emailId")
    mails = state.project.settings.soap.mails
    if email_id not in mails or "/" not in mails[email_id]:
        known = ", ".join(f"{k} ({v})" for k, v in sorted(mails.items())) or "none"
        raise Fault(
            f"no email {email_id}: give mail objects ids under soap.mails in sluis.yaml as "
            f"ID: FLOW/OBJECT; emails: {known}"
        )
    flow, object_id = mails[email_id].split("/", 1)
    options = {o.get("name"): o.get("value") for o in params.get("options") or [] if o}
    sent = services.send_mail(
        state, flow, object_id, needed(params, "customerId"), key=options.get("key"), data=options
    )
    if sent.outcome in ("held", "failed"):
        raise Fault(f"the mail was not sent: {sent.reason}", client=False)
    return sent.outcome == "sent"
