"""Deprecated since 0.3.0: the write side moved into herald_live/actions/ and herald_live/delivery/.

Host sites import the public names from ``herald_live`` (``from herald_live import mark_all_read``).
"""

from herald_live.deprecation import moved

MOVED = {
    "BrokerUnavailable": "herald_live",
    "mark_all_read": "herald_live",
    "mark_read": "herald_live",
    "mark_unread": "herald_live",
    "publish_resync_on_commit": "herald_live",
    "publish_deleted_on_commit": "herald_live",
    "end_session": "herald_live",
    "revoke_session": "herald_live",
    "revoke_other_sessions": "herald_live",
    "end_all_sessions": "herald_live",
    "send_notification": "herald_live.actions.sending",
    "record_event": "herald_live.actions.sending",
    "publish_all_read_on_commit": "herald_live.actions.announce",
    "publish_state_on_commit": "herald_live.actions.announce",
    "publish_created_on_commit": "herald_live.actions.announce",
    "queue_for": "herald_live.delivery.routing",
    "enqueue_fan_out": "herald_live.delivery.routing",
    "schedule_pending_fan_out": "herald_live.delivery.drain_mark",
    "hold_pending_fan_out_mark": "herald_live.delivery.drain_mark",
    "take_pending_fan_out_mark": "herald_live.delivery.drain_mark",
    "PENDING_MARK_SECONDS": "herald_live.delivery.drain_mark",
    "HELD_MARK_SECONDS": "herald_live.delivery.drain_mark",
    "redrive_stalled_events": "herald_live.delivery.redrive",
    "publish_to_user": "herald_live.delivery.publish",
    "publish_notification_state": "herald_live.delivery.publish",
    "publish_notifications": "herald_live.delivery.publish",
    "drop_sessions": "herald_live.delivery.publish",
}
__all__ = sorted(MOVED)
__getattr__ = moved("herald_live.services", MOVED)
