"""What the two-way chat channels (Telegram, Zalo) share: one implementation for both.

- ``signed``: button payloads bound to action and alert by an HMAC.
- ``links``: one-time link codes from the console, and who a linked account is.
- ``acts``: a verified press → ``ioc.ops.actions`` with the channel's name (serialised per alert,
  idempotent, resolved alerts refused).
- ``texts``: the replies, in Vietnamese and English.
"""
