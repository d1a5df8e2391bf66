"""PUT members: body validation and the merge-by-email rule (§6, §13 #10-11)."""

from __future__ import annotations

import re
from typing import Any

from batch.emulator.errors import BadRequest
from batch.emulator.models import Conversation, Member

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_body(member_id: str, body: Any) -> tuple[str, str | None]:
    """Validate a PUT members body (§13 #10): returns (name, trimmed email or None)."""
    if not isinstance(body, dict):
        raise BadRequest("Body must be a JSON object with 'id', 'name' and optionally 'email'.")
    unknown = set(body) - {"id", "name", "email"}
    if unknown:
        raise BadRequest(f"Unknown field '{sorted(unknown)[0]}'; a member has only id, name and email.")
    if body.get("id") != member_id:
        raise BadRequest(f"Field 'id' is required and must equal the member id in the path ({member_id}).")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("Field 'name' is required and must be a non-empty string.")
    if "email" not in body:
        return name, None
    email = body["email"]
    if not isinstance(email, str) or not EMAIL.match(email.strip()):
        raise BadRequest("Field 'email' must be a valid email address such as john@example.com.")
    return name, email.strip()


def updated(conversation_id: str, member_id: str) -> str:
    """The success message of PUT members (§2)."""
    return (
        f"Member with id: {member_id} for conversationId: {conversation_id} updated successfully! "
        "The update should be reflected in all messages and insights along with this conversation"
    )


def merge(conv: Conversation, duplicate: Member, survivor: Member, name: str) -> None:
    """§13 #11: the duplicate disappears; every reference moves to the survivor, which takes the body's name."""
    for message in conv.messages:
        if message.member_id == duplicate.id:
            message.member_id = survivor.id
    for insight in conv.insights:
        if insight.member_id == duplicate.id:
            insight.member_id = survivor.id
        if insight.assignee_id == duplicate.id:
            insight.assignee_id = survivor.id
    survivor.name = name
    del conv.members[duplicate.id]
