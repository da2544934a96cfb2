"""Industrial inspection pack: defect / no defect, type (from a YAML taxonomy) and box."""
