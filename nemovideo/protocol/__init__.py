"""The protocol, pure: models, converter, errors, SSE, chat events, draft, intents, GUI talk.

Nothing in this package does I/O or imports aiohttp; everything is tested with plain values.
Modules: ``errors`` (exception tree, answers to errors), ``envelope`` (decoding answers),
``converter`` and ``models`` (typed results), ``draft`` (the timeline), ``files`` (magic-byte
checks), ``sse`` (the event-stream decoder), ``events`` (typed chat events and the reply),
``intents`` (routing a person's words) and ``gui`` (translating the agent's GUI talk).
"""
