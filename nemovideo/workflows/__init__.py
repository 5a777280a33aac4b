"""The product layer: what the SDK does with the API's resources, one module per workflow.

- :mod:`~nemovideo.workflows.animate`: one image to one MP4 (``client.animate``).
- :mod:`~nemovideo.workflows.batch`: many images, a bounded number at a time
  (``client.animate_many``).
- :mod:`~nemovideo.workflows.resume`: finishing interrupted flows from the journal, without
  paying twice (``client.resume``).
- :mod:`~nemovideo.workflows.conversation`: a person's words to the right request
  (``client.converse``, ``nemovideo chat``).
- :mod:`~nemovideo.workflows.generation`: the one paid chat message and the documented wait
  for its draft.

What they share: :mod:`~nemovideo.workflows.steps` (a flow's steps, and the rule that keeps
what it paid for), :mod:`~nemovideo.workflows.checks` (everything checked before the first
request), :mod:`~nemovideo.workflows.recovery` (finishing a flow the ledger knows),
:mod:`~nemovideo.workflows.journal` and :mod:`~nemovideo.workflows.leases` (the flow ledger and
its claims), :mod:`~nemovideo.workflows.results` (progress and the finished video), and
:mod:`~nemovideo.workflows.host` (what a workflow needs from a client, and the flow accounting).

The workflows import the layers below them (protocol, transport, resources) and never the
client: :class:`~nemovideo.NemoClient` sits on top and delegates to them. Users import the
public names from :mod:`nemovideo`.
"""

__all__: list[str] = []
