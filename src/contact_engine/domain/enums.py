"""Enumerations shared by every layer. Values are the strings used in files, JSON and SQL."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    VOICE = "voice"
    SMS = "sms"
    EMAIL = "email"
    VISIT = "visit"


class Mode(StrEnum):
    AUTOMATED = "automated"
    AGENT = "agent"


class Role(StrEnum):
    DEBTOR = "debtor"
    SPOUSE = "spouse"
    GUARANTOR = "guarantor"
    DESIGNATED_CONTACT = "designated_contact"
    FAMILY = "family"
    EMPLOYER = "employer"
    REFERENCE = "reference"
    OTHER = "other"


class HoldKind(StrEnum):
    DISPUTE = "dispute"
    CEASE = "cease"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    DECEASED = "deceased"
    LEGAL = "legal"
    COMPLAINT = "complaint"


class Outcome(StrEnum):
    """What an attempt led to. See CONTRACTS.md for the meaning of each."""

    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    CONNECTED = "connected"
    CONVERSATION = "conversation"
    THIRD_PARTY_REFUSED = "third_party_refused"
    THIRD_PARTY_UNKNOWN = "third_party_unknown"
    WRONG_NUMBER = "wrong_number"
    DISPUTE = "dispute"
    CEASE = "cease"
    OPT_OUT = "opt_out"
    PROMISE_TO_PAY = "promise_to_pay"
    PAID = "paid"
    # Electronic channels.
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"


class ConsentKind(StrEnum):
    AUTODIAL_MOBILE = "autodial_mobile"
    EXTRA_CALLS = "extra_calls"
    TIME = "time"


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"


class LineType(StrEnum):
    MOBILE = "mobile"
    LANDLINE = "landline"
    VOIP = "voip"
    UNKNOWN = "unknown"


class Product(StrEnum):
    CREDIT_CARD = "credit_card"
    LOAN = "loan"
    B2B_INVOICE = "b2b_invoice"
    OTHER = "other"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    PROMISE = "promise"
    PAID = "paid"
    COLLECTOR_QUEUE = "collector_queue"
    LEGAL = "legal"
    CLOSED = "closed"


CONSUMER_ROLES = frozenset({Role.DEBTOR, Role.SPOUSE})
