"""The feedback loop: what reads the stored signals to produce figures, scores, alerts and datasets."""
