"""Two-way Zalo Official Account: the OA API client, its rotating tokens, the webhook and presses.

Alerts go out through ``alerts.notify.channels.zalo``; button presses come back as
``user_send_text`` webhook events carrying the signed payload, are queued in
``ioc_auth.zalo_inbox`` and handled by a worker with the same actions as Telegram
(``alerts.chatops``).
"""
