"""Annotation queues: sample the responses reviewers should look at, and take their labels back
(docs/contract.md §1 ``feedback sample`` / ``feedback annotate``, §7 ``annotation_queue`` and
``annotations``). Part of the feedback loop: it reads what the workers wrote, never the hot path."""
