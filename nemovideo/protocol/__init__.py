"""The protocol, pure: models, the converter, errors, the SSE decoder, the draft, intents.

Nothing in this package does I/O or imports aiohttp; everything is tested with plain values.
"""
