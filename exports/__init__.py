"""Feedback becomes datasets: regression evals, SFT and DPO exports with lineage.

(Not named ``datasets``: that would shadow the Hugging Face library users load these files with.)
Reads what the workers wrote (the ``events`` and ``traces`` views); never imports the hot path.
"""
