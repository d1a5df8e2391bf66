"""Member reconciliation: find who is who among a conversation's "Speaker n" members, merge duplicates
created by appends, and name everyone — from identities already known, self-introductions, and voice.

    from reconcile import Ledger, reconcile_conversation
"""

from reconcile.errors import ApplyError, ReconcileError, ReviewError, VoiceUnavailable
from reconcile.ledger import Ledger
from reconcile.models import Candidate, Consistency, Evidence, Member, Operation, Person, Plan, Quote, ReviewItem
from reconcile.planner import Settings, plan
from reconcile.review import Answer
from reconcile.review import read as read_review
from reconcile.session import Outcome, reconcile_conversation
from reconcile.voice.embedder import Embedder, available

__all__ = [
    "Answer",
    "ApplyError",
    "Candidate",
    "Consistency",
    "Embedder",
    "Evidence",
    "Ledger",
    "Member",
    "Operation",
    "Outcome",
    "Person",
    "Plan",
    "Quote",
    "ReconcileError",
    "ReviewError",
    "ReviewItem",
    "Settings",
    "VoiceUnavailable",
    "available",
    "plan",
    "read_review",
    "reconcile_conversation",
]
