"""Education packs: math work checking (first wrong step) and essay scoring against a rubric; zh/en input."""
