"""ONVIF events through a PullPoint subscription (plain SOAP, WS-BaseNotification).

``CreatePullPointSubscription`` on the event service, then ``PullMessages`` long-polls on the
address it returns; tamper topics become our events: ``tns1:RuleEngine/TamperDetector/Tamper``
(``IsTamper``) and ``tns1:VideoSource/GlobalSceneChange/*`` (``State``) -> ``tamper``,
``tns1:VideoSource/SignalLoss`` (``State``) -> ``video_loss``; the rest are ignored.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from collector.checks._events import EventTracker
from collector.checks.base import EventOut
from collector.protocols import xmlsafe

EVENTS_NS = "http://www.onvif.org/ver10/events/wsdl"
WSA = "http://www.w3.org/2005/08/addressing"

# topic suffix -> (our type, the SimpleItem that carries the state)
TOPICS = (
    ("RuleEngine/TamperDetector/Tamper", "tamper", "IsTamper"),
    ("VideoSource/GlobalSceneChange/", "tamper", "State"),
    ("VideoSource/SignalLoss", "video_loss", "State"),
)


def create_body(termination: str = "PT120S") -> str:
    return (
        f'<CreatePullPointSubscription xmlns="{EVENTS_NS}"><InitialTerminationTime>'
        f"{termination}</InitialTerminationTime></CreatePullPointSubscription>"
    )


def pull_body(timeout_s: int, limit: int = 64) -> str:
    return (
        f'<PullMessages xmlns="{EVENTS_NS}"><Timeout>PT{timeout_s}S</Timeout>'
        f"<MessageLimit>{limit}</MessageLimit></PullMessages>"
    )


def addressing(action: str, to: str) -> str:
    """WS-Addressing headers many cameras require on event calls."""
    return f'<Action xmlns="{WSA}">{EVENTS_NS}/{action}</Action><To xmlns="{WSA}">{to}</To>'


def subscription_address(answer: Element) -> str:
    """The PullPoint address from a CreatePullPointSubscriptionResponse."""
    address = xmlsafe.text(answer, "SubscriptionReference", "Address")
    if not address or not address.startswith(("http://", "https://")):
        raise xmlsafe.XmlError("CreatePullPointSubscription without an http(s) Address")
    return address[:500]


def events_of_pull(tracker: EventTracker, answer: Element) -> list[EventOut]:
    """Our events from one PullMessagesResponse."""
    out: list[EventOut] = []
    for note in answer.iter():
        if xmlsafe.local(note.tag) != "NotificationMessage":
            continue
        topic = xmlsafe.text(note, "Topic") or ""
        match = next(((t, i) for suffix, t, i in TOPICS if suffix in topic), None)
        if match is None:
            continue
        etype, item = match
        source = _items(note, "Source")
        data = _items(note, "Data")
        value = data.get(item, "").lower()
        if value not in ("true", "false"):
            continue
        channel = source.get("VideoSourceConfigurationToken") or source.get("Source") or "0"
        ev = tracker.update(
            etype, channel[:64], value == "true", {"channel": channel[:64], "raw_type": topic[:120]}
        )
        if ev is not None:
            out.append(ev)
    return out


def _items(note: Element, section: str) -> dict[str, str]:
    node = xmlsafe.find(note, section)
    if node is None:
        return {}
    return {
        str(i.get("Name")): str(i.get("Value", ""))
        for i in node.iter()
        if xmlsafe.local(i.tag) == "SimpleItem" and i.get("Name")
    }
