"""Medical imaging pack: findings with boxes and a structured report, as decision support (not a diagnosis)."""
