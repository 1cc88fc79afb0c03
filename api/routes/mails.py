"""``/api/v1/mails``: send one mail object of a flow to one customer now (a transactional
mail, such as an order confirmation), by the same rules as in the flow: send log, tracking,
unsubscribes and bounces. A ``key`` makes the call idempotent: the same key again answers
what happened and sends nothing more."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api import services
from api.deps import StateDep, api_access
from api.errors import ERRORS
from api.jsonbody import CheckedRoute
from api.models import MailSend, MailSent, Message

router = APIRouter(
    route_class=CheckedRoute,
    prefix="/mails",
    tags=["mails"],
    dependencies=[Depends(api_access)],
    responses={
        **ERRORS,
        404: {"model": Message, "description": "no such flow, object or customer"},
    },
)
FlowPath = Annotated[str, Path(min_length=1, max_length=200, description="the flow's name")]
ObjectPath = Annotated[
    str, Path(min_length=1, max_length=200, description="the id of a mail object of the flow")
]


@router.post("/{flow}/{object_id}", response_model=MailSent)
def send_mail(flow: FlowPath, object_id: ObjectPath, body: MailSend, state: StateDep) -> MailSent:
    """Send the mail object to one customer (by system_id, external_id or email) now.
    ``outcome`` is sent, skipped (unsubscribed, bounced, no address: ``reason`` says),
    held (the mail server did not take it yet: call again with the same key) or failed."""
    key, value = body.named()
    [customer] = services.resolve_customers(state, key, [value])
    sent = services.send_mail(state, flow, object_id, customer, key=body.key, data=body.data)
    return MailSent(
        flow=flow,
        object=object_id,
        customer=customer,
        journey=sent.journey_id,
        outcome=sent.outcome,
        reason=sent.reason,
        repeated=sent.repeated,
    )
