"""Two-way Telegram: inline buttons on alert messages, and the bot that receives the presses.

The alert engine's leader long-polls ``getUpdates`` (one consumer per bot, as Telegram allows)
and acts on presses from linked accounts within their role and communes.
"""
