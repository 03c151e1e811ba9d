"""What every two-way chat channel shares (Zalo now; Telegram to switch over).

- ``signed``: button payloads bound to action and alert by an HMAC.
- ``links``: one-time link codes from the console, and who a linked account is.
- ``acts``: a verified press → ``ioc.ops.actions`` with the channel's name, and the replies.
"""
